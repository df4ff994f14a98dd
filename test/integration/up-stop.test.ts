/**
 * Stopping `meetzone up` as people do: Ctrl-C in a terminal (SIGINT to the
 * whole process group) with participants on every MMR, and SIGTERM to the
 * `npm run` in front of it. It stops within 2 s, and no process it started
 * is left behind.
 */
import { readFileSync } from "node:fs"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Client, Connector, Lookup } from "../../src/index.js"
import { alive, descendants, startUp } from "../support/up-process.js"

const config = `
web: [{ id: web-1, port: 0 }]
tunnels: [{ id: tunnel-1 }]
zones: [{ id: eu-west, location: { lat: 53.35, lon: -6.26 }, controllers: [{ id: c1 }], mmrs: [{ id: stop-mmr-1 }, { id: stop-mmr-2 }] }]
`

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
        // Its own nats-server outlived the graceful stop: nothing timed out on it (a session's MMR-gone warning is fine).
        expect(up.output()).not.toMatch(/KvError|BusError|RequestTimeout|\btimed out\b/)
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
