/**
 * The per-actor entrypoints as an operator meets them: a bad configuration
 * is explained (field path, what was expected) and the process exits
 * non-zero before binding anything; every command has --help; and the
 * installed command (the bundle) serves with its pages and native path.
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { mkdtemp, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { stringify } from "yaml"
import { Agent, fetch } from "undici"
import * as Config from "../../src/topology/config.js"
import * as NatsServer from "../../src/transports/nats/server.js"
import { meetzone } from "../support/cli.js"

/** A port this test holds: a process that bound it first would fail with EADDRINUSE instead. */
const heldPort = Effect.acquireRelease(
  Effect.async<{ port: number; close: () => void }>((resume) => {
    const server = createServer().listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ port: (server.address() as AddressInfo).port, close: () => server.close() })),
    )
  }),
  (h) => Effect.sync(h.close),
)

const writeConfig = (config: unknown) =>
  Effect.gen(function* () {
    const dir = yield* Effect.promise(() => mkdtemp(joinPath(tmpdir(), "meetzone-entry-")))
    const file = joinPath(dir, "meetzone.yaml")
    yield* Effect.promise(() => writeFile(file, stringify(config)))
    return file
  })

const base = {
  ...Config.defaultTopology,
  nats: { servers: ["nats://127.0.0.1:1"] },
  tokenSecret: "x".repeat(32),
}

describe("entrypoints", () => {
  it.scoped("a bad field: its path and what was expected, exit 1, before any port is bound", () =>
    Effect.gen(function* () {
      const held = yield* heldPort
      const file = yield* writeConfig({
        ...base,
        web: [{ id: "web-1", port: held.port }],
        zones: [{ ...base.zones[0], mmrs: [{ id: "eu-mmr-1", capacity: -1, mediaPort: held.port }] }],
      })
      const runs = yield* Effect.forEach(["web", "mmr"], (role) => meetzone([role, "--config", file]), { concurrency: "unbounded" })
      for (const run of runs) {
        expect(run.code).toBe(1)
        expect(run.stderr).toContain("zones.0.mmrs.0.capacity: Expected a positive number, actual -1")
        expect(run.stderr).not.toMatch(/EADDRINUSE|address already in use/)
        expect(run.stdout).not.toContain("is up")
      }
    }),
    180_000,
  )

  it.scoped("a bad environment override is named; a missing nats.servers or tokenSecret is explained", () =>
    Effect.gen(function* () {
      const file = yield* writeConfig(base)
      const noNats = yield* writeConfig({ ...base, nats: {} })
      const { tokenSecret: _, ...withoutSecret } = base
      const noSecret = yield* writeConfig(withoutSecret)
      const [typo, unknown, missingNats, missingSecret] = yield* Effect.all(
        [
          meetzone(["controller", "--config", file, "--id", "eu-west/c1"], { MEETZONE__ZONES__0__MMRS__0__CAPACITY: "many" }),
          meetzone(["tunnel", "--config", file, "--id", "tunnel-1"], { MEETZONE__TUNNELS__0__COLOUR: "blue" }),
          meetzone(["web", "--config", noNats]),
          meetzone(["web", "--config", noSecret]),
        ],
        { concurrency: "unbounded" },
      )
      expect(typo.code).toBe(1)
      expect(typo.stderr).toContain("zones.0.mmrs.0.capacity")
      expect(typo.stderr).toContain("(set by MEETZONE__ZONES__0__MMRS__0__CAPACITY)")
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toContain('MEETZONE__TUNNELS__0__COLOUR: tunnels.0: no field "COLOUR"')
      expect(missingNats.stderr).toContain("nats.servers: required to run one actor per process")
      expect(missingSecret.stderr).toContain("tokenSecret: required")
    }),
    180_000,
  )

  it.scoped("--id picks one actor; an ambiguous or unknown one lists the candidates", () =>
    Effect.gen(function* () {
      const file = yield* writeConfig(base)
      const [ambiguous, none] = yield* Effect.all(
        [meetzone(["controller", "--config", file, "--id", "c1"]), meetzone(["mmr", "--config", file, "--id", "eu-mmr-9"])],
        { concurrency: "unbounded" },
      )
      expect(ambiguous.code).toBe(1)
      expect(ambiguous.stderr).toContain('"c1" names 2 controllers (eu-west/c1, us-east/c1): pass --id zone/id')
      expect(none.stderr).toContain("no mmr eu-mmr-9 in the configuration (mmrs: eu-west/eu-mmr-1, eu-west/eu-mmr-2, us-east/us-mmr-1, us-east/us-mmr-2)")
    }),
    180_000,
  )

  it.effect("every command explains itself with --help", () =>
    Effect.gen(function* () {
      const commands = [["web"], ["controller"], ["mmr"], ["tunnel"], ["up"], ["dev-ca"], ["client", "join"], ["meeting", "create"], ["doctor"], ["nats-auth", "init"]]
      const helps = yield* Effect.forEach(commands, (command) => meetzone([...command, "--help"]), { concurrency: 4 })
      for (const [i, command] of commands.entries()) {
        const help = helps[i]!
        expect(help.code, command.join(" ")).toBe(0)
        expect(help.stdout).toMatch(new RegExp(`^Usage: meetzone ${command.join(" ")} `))
        expect(help.stdout).toContain("Example")
        if (["web", "controller", "mmr", "tunnel"].includes(command[0]!)) {
          expect(help.stdout).toContain("--config")
          expect(help.stdout).toContain("--id")
        }
      }
    }),
    180_000,
  )
})

describe("the installed command (npm's bin: the bundle npm ci builds)", () => {
  it.scopedLive("serves a web lookup with its pages and an MMR on the native data path, from dist/bundle", () =>
    Effect.gen(function* () {
      const nats = yield* Effect.orDie(NatsServer.start({}))
      const file = yield* writeConfig({ ...base, nats: { servers: [nats.url] } })
      const bin = joinPath(import.meta.dirname, "../../dist/bundle/apps/meetzone.mjs")
      const start = (args: ReadonlyArray<string>) =>
        Effect.acquireRelease(
          Effect.async<{ child: ChildProcess; out: () => string }, Error>((resume) => {
            const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, MEETZONE_LOG_LEVEL: "info" } })
            let out = ""
            const timer = setTimeout(() => resume(Effect.fail(new Error(`not up in 30 s:\n${out}`))), 30_000)
            const read = (d: Buffer) => {
              out += d.toString()
              if (out.includes(" is up (pid ")) {
                clearTimeout(timer)
                resume(Effect.succeed({ child, out: () => out }))
              }
            }
            child.stdout.on("data", read)
            child.stderr.on("data", read)
            child.on("exit", (code) => {
              clearTimeout(timer)
              resume(Effect.fail(new Error(`exited ${code}:\n${out}`)))
            })
          }),
          ({ child }) => Effect.sync(() => void child.kill("SIGTERM")),
        )
      const web = yield* start(["web", "--config", file])
      const mmr = yield* start(["mmr", "--config", file, "--id", "eu-west/eu-mmr-1"])
      const url = /web lookup web-1 at (https:\/\/\S+?)"/.exec(web.out())?.[1]
      expect(url, web.out()).toBeDefined()
      const page = yield* Effect.promise(() =>
        fetch(`${url}/web/client/app.js`, { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) }).then(async (r) => ({ status: r.status, type: r.headers.get("content-type") })),
      )
      // Its pages are found from the bundle's place (web/ at the package root).
      expect(page).toEqual({ status: 200, type: "text/javascript; charset=utf-8" })
      expect(mmr.out()).toContain("media plane: UDP on native (recvmmsg and sendmmsg, IP_TOS per datagram)")
    }),
    60_000,
  )
})
