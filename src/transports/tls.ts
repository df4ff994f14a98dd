/**
 * TLS identities for meetzone's servers (web lookup, MMR TLS media, tunnels):
 * loaded from files, or — for development and tests — issued by a throwaway
 * CA made with `selfsigned`, so a client trusts one CA certificate for every
 * server of a topology.
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import { isIP } from "node:net"
import { Data, Effect } from "effect"
import { generate } from "selfsigned"

/** @category models */
export interface TlsIdentity {
  /** PEM certificate (chain). */
  readonly cert: string
  /** PEM private key. */
  readonly key: string
}

/** @category models */
export interface DevCa extends TlsIdentity {
  /** Issues a server certificate for `hosts` (DNS names and IP addresses). */
  readonly issue: (hosts: ReadonlyArray<string>) => Effect.Effect<TlsIdentity>
}

/** @category errors */
export class TlsError extends Data.TaggedError("TlsError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

const inTenYears = () => new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000)

/**
 * A new CA for one topology (EC P-256: generated in milliseconds).
 *
 * @category constructors
 */
export const devCa = (name = "meetzone dev CA"): Effect.Effect<DevCa> =>
  Effect.promise(() =>
    generate([{ name: "commonName", value: name }], {
      keyType: "ec",
      curve: "P-256",
      algorithm: "sha256",
      notAfterDate: inTenYears(),
      extensions: [
        { name: "basicConstraints", cA: true, critical: true },
        { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
      ],
    } as Parameters<typeof generate>[1]),
  ).pipe(Effect.map((ca) => caOf(ca.cert, ca.private)))

/**
 * A development CA kept on disk (`meetzone dev-ca`), so that actors in
 * separate processes issue certificates clients trust with one CA file.
 *
 * @category constructors
 */
export const devCaFromFiles = (files: { readonly certFile: string; readonly keyFile: string }): Effect.Effect<DevCa, TlsError> =>
  Effect.map(fromFiles(files), (id) => caOf(id.cert, id.key))

const caOf = (cert: string, key: string): DevCa => ({
  cert,
  key,
  issue: (hosts: ReadonlyArray<string>) =>
    Effect.promise(() =>
      generate([{ name: "commonName", value: hosts[0] ?? "localhost" }], {
        keyType: "ec",
        curve: "P-256",
        algorithm: "sha256",
        notAfterDate: inTenYears(),
        ca: { key, cert },
        extensions: [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
          { name: "extKeyUsage", serverAuth: true },
          {
            name: "subjectAltName",
            altNames: hosts.map((h) => (isIP(h) !== 0 ? { type: 7 as const, ip: h } : { type: 2 as const, value: h })),
          },
        ],
      } as Parameters<typeof generate>[1]),
    ).pipe(Effect.map((issued) => ({ cert: issued.cert, key: issued.private }))),
})

/**
 * Reads a certificate and key from PEM files.
 *
 * @category constructors
 */
export const fromFiles = (files: { readonly certFile: string; readonly keyFile: string }): Effect.Effect<TlsIdentity, TlsError> =>
  Effect.tryPromise({
    try: async () => ({ cert: await readFile(files.certFile, "utf8"), key: await readFile(files.keyFile, "utf8") }),
    catch: (e) => new TlsError({ detail: `cannot read TLS files: ${e instanceof Error ? e.message : String(e)}` }),
  })
