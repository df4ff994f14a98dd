/**
 * Development mode, like `livekit-server --dev`: `meetzone up` with no
 * arguments listens on a fixed web address and keeps its development CA in
 * one place, so the commands it prints work again after every restart, and
 * the other commands find both without being told:
 *
 *   MEETZONE_WEB   the web lookup's URL     default https://127.0.0.1:8443
 *   MEETZONE_CA    the CA to trust          default <home>/dev/ca.pem, when it exists
 *   MEETZONE_HOME  where dev mode keeps it  default ~/.meetzone
 *
 * @since 0.3.0
 */
import { existsSync } from "node:fs"
import { chmod, mkdir, writeFile } from "node:fs/promises"
import { homedir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { Tls } from "../index.js"

export const defaultWeb = "https://127.0.0.1:8443"

/** The web lookup commands talk to when not given `--web`. @category defaults */
export const web = (): string => process.env["MEETZONE_WEB"] ?? defaultWeb

/** Where dev mode keeps its CA. @category defaults */
export const caFiles = () => {
  const dir = join(process.env["MEETZONE_HOME"] ?? join(homedir(), ".meetzone"), "dev")
  return { dir, certFile: join(dir, "ca.pem"), keyFile: join(dir, "ca-key.pem") }
}

/** The CA file commands trust when not given `--ca`: MEETZONE_CA, else dev mode's when it exists. @category defaults */
export const ca = (): string | undefined => process.env["MEETZONE_CA"] ?? (existsSync(caFiles().certFile) ? caFiles().certFile : undefined)

/** Dev mode's CA: made on first use, then the same one every time (its key readable by this user only). @category defaults */
export const ensureCa = Effect.gen(function* () {
  const files = caFiles()
  if (existsSync(files.certFile) && existsSync(files.keyFile)) return { ...files, made: false }
  const made = yield* Tls.devCa("meetzone dev CA")
  yield* Effect.promise(async () => {
    await mkdir(files.dir, { recursive: true, mode: 0o700 })
    await writeFile(files.keyFile, made.key, { mode: 0o600 })
    await chmod(files.keyFile, 0o600)
    await writeFile(files.certFile, made.cert)
  })
  return { ...files, made: true }
})
