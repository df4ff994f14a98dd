/**
 * A real HTTP proxy (Debian's tinyproxy) for tests: started on a free port in
 * a temp dir, with optional Basic auth, stopped by PID with the scope.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { freePort } from "../../src/transports/nats/server.js"

export interface Tinyproxy {
  readonly url: string
  readonly port: number
  readonly pid: number
  /** Lines tinyproxy logged: which CONNECTs it made. */
  readonly log: () => ReadonlyArray<string>
}

const binary = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"].find((p) => existsSync(p))

export const start = (options: { listen?: string; user?: string; password?: string; allow?: string } = {}) =>
  Effect.gen(function* () {
    if (binary === undefined) {
      return yield* Effect.dieMessage("proxy tests need tinyproxy: apt-get install tinyproxy (.ci/run installs it)")
    }
    const listen = options.listen ?? "127.0.0.1"
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "meetzone-proxy-"))),
      (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
    )
    const port = yield* freePort(listen)
    const config = [
      `Port ${port}`,
      `Listen ${listen}`,
      "Timeout 30",
      "MaxClients 100",
      `Allow ${options.allow ?? "127.0.0.1"}`,
      "LogLevel Connect",
      // No ConnectPort lines: CONNECT to any port (the tests' servers use ephemeral ones).
      ...(options.user !== undefined ? [`BasicAuth ${options.user} ${options.password}`] : []),
    ].join("\n")
    yield* Effect.promise(() => writeFile(join(dir, "tinyproxy.conf"), config))
    const lines: Array<string> = []
    const child = yield* Effect.acquireRelease(
      Effect.async<ReturnType<typeof spawn>, Error>((resume) => {
        const p = spawn(binary, ["-d", "-c", join(dir, "tinyproxy.conf")], { stdio: ["ignore", "pipe", "pipe"] })
        const onLine = (chunk: Buffer) => {
          for (const line of chunk.toString().split("\n")) if (line.trim() !== "") lines.push(line)
          if (lines.some((l) => /Reloading config file finished|listening on/i.test(l))) resume(Effect.succeed(p))
        }
        p.stdout!.on("data", onLine)
        p.stderr!.on("data", onLine)
        p.once("exit", (code) => resume(Effect.fail(new Error(`tinyproxy exited (${code}): ${lines.join("\n")}`))))
        setTimeout(() => resume(Effect.succeed(p)), 1500) // older builds say nothing when ready
      }),
      (p) =>
        Effect.async<void>((resume) => {
          if (p.exitCode !== null) return resume(Effect.void)
          p.once("exit", () => resume(Effect.void))
          p.kill("SIGTERM")
        }),
    )
    return {
      url: `http://${listen}:${port}`,
      port,
      pid: child.pid ?? -1,
      log: () => [...lines],
    } satisfies Tinyproxy
  })
