/**
 * How long an entrypoint takes from `node` to serving — the process started
 * until it prints "meetzone <actor> is up" (connected to NATS, its actor
 * started, its ports bound) — for each role, from the compiled package: the
 * bundled CLI (dist/bundle/apps/meetzone.mjs, what `bin` runs) beside the
 * unbundled modules (dist/apps/meetzone.js) in the same run, against a
 * nats-server of its own. Median of the rounds; `npm run build` first.
 *
 *   npm run bench:startup [-- --rounds 5]
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { Effect, LogLevel } from "effect"
import { stringify } from "yaml"
import * as Config from "../src/topology/config.js"
import * as NatsServer from "../src/transports/nats/server.js"
import { median, ms, run } from "./support.js"

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "5" } } })
const ROUNDS = Number(args.rounds)
const entries = { bundled: "dist/bundle/apps/meetzone.mjs", modules: "dist/apps/meetzone.js" } as const
const roles = [
  ["web", "web-1"],
  ["controller", "eu-west/c1"],
  ["mmr", "eu-west/eu-mmr-1"],
  ["tunnel", "tunnel-1"],
] as const

/** Milliseconds from spawn to "is up", then SIGTERM to that PID and wait for it to exit. */
const startOnce = (entry: string, role: string, id: string, configFile: string) =>
  Effect.async<number, Error>((resume) => {
    const started = performance.now()
    const child = spawn(process.execPath, [entry, role, "--config", configFile, "--id", id], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let up: number | undefined
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      if (up === undefined && out.includes(" is up (pid ")) {
        up = performance.now() - started
        child.kill("SIGTERM")
      }
    })
    child.stderr.on("data", (d: Buffer) => void (out += d.toString()))
    child.on("exit", () => {
      clearTimeout(timer)
      resume(up !== undefined ? Effect.succeed(up) : Effect.fail(new Error(`${role} never came up:\n${out}`)))
    })
  })

const main = Effect.gen(function* () {
  for (const entry of Object.values(entries)) if (!existsSync(entry)) return yield* Effect.dieMessage(`${entry} is missing: npm run build first`)
  const nats = yield* Effect.orDie(NatsServer.start({}))
  const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "meetzone-startup-")))
  const configFile = join(dir, "meetzone.yaml")
  const config: Config.ConfigInput = { ...Config.defaultTopology, nats: { servers: [nats.url] }, tokenSecret: "startup-bench-secret-startup-bench" }
  yield* Effect.promise(() => writeFile(configFile, stringify(config)))
  const samples = new Map<string, Array<number>>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const [role, id] of roles) {
      for (const [kind, entry] of Object.entries(entries)) {
        const key = `${role}/${kind}`
        samples.set(key, [...(samples.get(key) ?? []), yield* startOnce(entry, role, id, configFile)])
      }
    }
  }
  console.log(`\nfrom node to "is up" (NATS connected, actor started, ports bound), median of ${ROUNDS}; node ${process.version}\n`)
  console.log(`${"entrypoint".padEnd(12)}${"bundled".padStart(12)}${"modules".padStart(12)}${"ratio".padStart(8)}`)
  for (const [role] of roles) {
    const b = median(samples.get(`${role}/bundled`)!)
    const m = median(samples.get(`${role}/modules`)!)
    console.log(`${role.padEnd(12)}${ms(b, 12)}${ms(m, 12)}${(b / m).toFixed(2).padStart(8)}`)
  }
  const slowest = Math.max(...roles.map(([role]) => median(samples.get(`${role}/bundled`)!)))
  console.log(`\nslowest bundled entrypoint: ${slowest.toFixed(0)} ms`)
  console.log(`reproduce: npm run build && npm run bench:startup -- --rounds ${ROUNDS}`)
})

run(main, { level: LogLevel.Error })
