/**
 * Stopping `meetzone up` as people do: Ctrl-C in a terminal (SIGINT to the
 * whole process group) with participants on every MMR, and SIGTERM to the
 * `npm run` in front of it. It stops within 2 s, and no process it started
 * is left behind.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Option } from "effect"
import { Client, Connector, Lookup } from "../../src/index.js"

const config = `
web: [{ id: web-1, port: 0 }]
tunnels: [{ id: tunnel-1 }]
zones: [{ id: eu-west, location: { lat: 53.35, lon: -6.26 }, controllers: [{ id: c1 }], mmrs: [{ id: stop-mmr-1 }, { id: stop-mmr-2 }] }]
`

/** A process's state letter from /proc, or undefined when it is gone. */
const stateOf = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0]
  } catch {
    return undefined
  }
}
const alive = (pid: number) => {
  const s = stateOf(pid)
  return s !== undefined && s !== "Z"
}

/** Every process below `root` (by parent links in /proc), at this moment. */
const descendants = (root: number): ReadonlyArray<number> => {
  const parent = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")
      parent.set(Number(entry), Number(stat[1]))
    } catch {
      // gone meanwhile
    }
  }
  const below: Array<number> = []
  const walk = (pid: number) => {
    for (const [child, p] of parent) if (p === pid) (below.push(child), walk(child))
  }
  walk(root)
  return below
}

/** `command` in a process group of its own (as a terminal runs a job), until it prints the banner. */
const startUp = (command: string, args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<string, Error>()
    const exited = yield* Deferred.make<{ code: number | null; at: number }>()
    let output = ""
    const child: ChildProcess = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(command, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] })
        const take = (chunk: Buffer) => {
          output += chunk.toString()
          if (output.includes("press Ctrl-C to stop")) Deferred.unsafeDone(ready, Effect.succeed(output))
        }
        child.stdout!.on("data", take)
        child.stderr!.on("data", take)
        child.on("exit", (code) => {
          Deferred.unsafeDone(exited, Effect.succeed({ code, at: performance.now() }))
          Deferred.unsafeDone(ready, Effect.fail(new Error(`exited with ${code}:\n${output}`)))
        })
        return child
      }),
      // Whatever the test did, nothing of the group outlives it.
      (child) => Effect.sync(() => void (child.pid !== undefined && [child.pid, ...descendants(child.pid)].forEach((p) => alive(p) && process.kill(p, "SIGKILL")))),
    )
    const banner = yield* Deferred.await(ready).pipe(Effect.timeout("90 seconds"))
    const web = /meetzone is up — web (\S+)/.exec(banner)![1]!
    const ca = readFileSync(/--ca (\S+)\)/.exec(banner)![1]!, "utf8")
    return { child, pid: child.pid!, web, ca, exited: Deferred.await(exited), output: () => output }
  })

const configFile = Effect.promise(async () => {
  const file = joinPath(await mkdtemp(joinPath(tmpdir(), "meetzone-stop-")), "up.yaml")
  await writeFile(file, config)
  return file
})

describe("stopping meetzone up", () => {
  it.live(
    "Ctrl-C (SIGINT to the whole process group) with participants on every MMR: stopped within 2 s, its nats-server with it",
    () =>
      Effect.gen(function* () {
        const up = yield* startUp(process.execPath, ["--import", "tsx", "src/apps/meetzone.ts", "up", "--config", yield* configFile])
        const natsServers = descendants(up.pid).filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("nats-server"))
        expect(natsServers).toHaveLength(1)
        // A participant on each MMR (meetings spread over the least loaded).
        const tls = { ca: up.ca }
        const http = yield* Lookup.dispatcher(tls, Option.none())
        const hosts = new Set<string>()
        for (let i = 0; i < 8 && hosts.size < 2; i++) {
          const meeting = yield* Effect.orDie(Lookup.createMeeting(http, new URL(up.web), { timeoutMs: 5000 }))
          const session = yield* Effect.orDie(Client.join({ web: up.web, meeting: meeting.id, name: `p${i}`, tls, proxy: "none", media: { kinds: ["audio"] }, reportToWeb: false }))
          hosts.add(session.mmr)
          yield* Effect.sleep("300 millis") // the MMR's next load report
        }
        expect([...hosts].sort()).toEqual(["stop-mmr-1", "stop-mmr-2"])

        const sentAt = performance.now()
        process.kill(-up.pid, "SIGINT")
        const { code, at } = yield* up.exited.pipe(Effect.timeout("10 seconds"))
        expect(at - sentAt, `ms from SIGINT to exit\n${up.output()}`).toBeLessThanOrEqual(2000)
        expect(code, up.output()).not.toBeNull()
        expect(up.output()).not.toMatch(/KV|timed? ?out/i) // its own nats-server outlived the graceful stop
        for (const p of natsServers) expect(alive(p), `nats-server ${p}`).toBe(false)
      }).pipe(Effect.scoped, Effect.provide(Connector.nats)),
    120_000,
  )

  it.live(
    "SIGTERM to `npm run meetzone -- up`: no process of it remains",
    () =>
      Effect.gen(function* () {
        const up = yield* startUp("npm", ["run", "--silent", "meetzone", "--", "up", "--config", yield* configFile])
        const below = descendants(up.pid)
        expect(below.length, "npm's node and its nats-server").toBeGreaterThanOrEqual(2)
        process.kill(up.pid, "SIGTERM")
        yield* up.exited.pipe(Effect.timeout("10 seconds"))
        let left = below.filter(alive)
        for (let i = 0; i < 100 && left.length > 0; i++) {
          yield* Effect.sleep("50 millis")
          left = below.filter(alive)
        }
        expect(left.map((p) => `${p}: ${readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ")}`)).toEqual([])
      }).pipe(Effect.scoped),
    120_000,
  )
})
