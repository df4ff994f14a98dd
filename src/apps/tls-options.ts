/**
 * The TLS trust options every client-side command takes.
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import type { Lookup } from "../index.js"

export const caOption = Options.file("ca").pipe(
  Options.withDescription("PEM CA certificate to trust (e.g. the one `meetzone up` prints)"),
  Options.optional,
)
export const insecureOption = Options.boolean("insecure").pipe(
  Options.withDescription("do not verify TLS certificates (development only)"),
)

/** @category options */
export const trust = (ca: Option.Option<string>, insecure: boolean): Effect.Effect<Lookup.TlsTrust> =>
  Option.match(ca, {
    onNone: () => Effect.succeed({ insecure }),
    onSome: (path) => Effect.map(Effect.promise(() => readFile(path, "utf8")), (pem) => ({ ca: pem, insecure })),
  })
