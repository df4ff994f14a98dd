/**
 * An MMR with `workers: 2` as an operator runs it (`meetzone mmr --id
 * zone/id`): two worker processes under one supervisor, each a whole MMR to
 * the zone's controller, so meetings are placed on both and media flows
 * through each. A worker SIGKILLed is started again, one SIGSTOPped (no
 * heartbeat) is killed and started again; SIGTERM to the
 * supervisor stops every worker gracefully; a supervisor SIGKILLed leaves no
 * worker behind (each sees its IPC channel close). Web lookup and controller
 * run in the test's process over the same real nats-server.
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { mkdtemp, writeFile } from "node:fs/promises"
import type { AddressInfo, Server } from "node:net"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Deferred, Effect, Either, Layer, Option } from "effect"
import { stringify } from "yaml"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import * as Config from "../../src/topology/config.js"
import * as Topology from "../../src/topology/Topology.js"
import * as Connector from "../../src/transports/connector.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import { poll } from "../support/poll.js"
import * as TestTopology from "../support/topology.js"
import { alive, descendants } from "../support/up-process.js"

const input = (prefix: string, natsUrl: string, metricsPort: number): Config.ConfigInput => {
  const base = TestTopology.twoZones({ prefix })
  return {
    ...base,
    nats: { servers: [natsUrl] },
    metrics: { host: "127.0.0.1", port: metricsPort, enabled: true },
    timing: { ...base.timing, workerRestart: "100 millis", workerStall: "3 seconds", drainGrace: "1 second" },
    zones: [{ id: "eu-west", location: { lat: 53.35, lon: -6.26 }, controllers: [{ id: "c1" }], mmrs: [{ id: "m", workers: 2 }] }],
  }
}

/** Two consecutive free loopback ports (bounded tries), released for the workers to take. */
const freePair = Effect.promise(async () => {
  const listen = (port: number) =>
    new Promise<Server | undefined>((ok) => {
      const server = createServer()
      server.once("error", () => ok(undefined))
      server.listen(port, "127.0.0.1", () => ok(server))
    })
  for (let i = 0; i < 20; i++) {
    const first = (await listen(0))!
    const port = (first.address() as AddressInfo).port
    const second = port < 65535 ? await listen(port + 1) : undefined
    first.close()
    second?.close()
    if (second !== undefined) return port
  }
  throw new Error("no two consecutive free ports in 20 tries")
})

/** Web lookup and controller here; the MMR group as `meetzone mmr` in a process group of its own. */
const deploy = (prefix: string) =>
  Effect.gen(function* () {
    const nats = yield* TestNats
    const metricsPort = yield* freePair
    const written = input(prefix, nats.url, metricsPort)
    const config = yield* Either.match(Config.decode(written, "test"), { onLeft: (e) => Effect.dieMessage(e.message), onRight: Effect.succeed })
    const services = yield* Layer.build(Topology.services(config))
    const topology = yield* Topology.start(config, [nats.url], (a) => a.role !== "mmr").pipe(Effect.provide(services), Effect.orDie)
    const dir = yield* Effect.promise(() => mkdtemp(joinPath(tmpdir(), "meetzone-workers-")))
    const file = joinPath(dir, "meetzone.yaml")
    yield* Effect.promise(() => writeFile(file, stringify(written)))

    let output = ""
    const exited = yield* Deferred.make<{ code: number | null; signal: string | null }>()
    const supervisor: ChildProcess = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(process.execPath, ["--import", "tsx", "src/apps/meetzone.ts", "mmr", "--config", file, "--id", "eu-west/m"], {
          detached: true,
          stdio: ["ignore", "pipe", "pipe"],
        })
        child.stdout!.on("data", (c: Buffer) => void (output += c.toString()))
        child.stderr!.on("data", (c: Buffer) => void (output += c.toString()))
        child.on("exit", (code, signal) => Deferred.unsafeDone(exited, Effect.succeed({ code, signal })))
        return child
      }),
      // Whatever the test did, nothing it started outlives it.
      (child) => Effect.sync(() => [child.pid!, ...descendants(child.pid!)].forEach((p) => alive(p) && process.kill(p, "SIGKILL"))),
    )
    /** Worker `n`'s pids so far, from its banners. */
    const pidsOf = (n: number) => [...output.matchAll(new RegExp(`meetzone mmr eu-west/m-w${n} is up \\(pid (\\d+)\\)`, "g"))].map((m) => Number(m[1]))
    const up = yield* poll(Effect.sync(() => [pidsOf(1), pidsOf(2)]), ([a, b]) => a!.length > 0 && b!.length > 0, 300)
    expect(up.every((pids) => pids.length === 1), output).toBe(true)
    expect(output).toContain("meetzone mmr group eu-west/m is up")
    return { topology, supervisor, pidsOf, metricsPort, output: () => output, exited: Deferred.await(exited), workers: [up[0]![0]!, up[1]![0]!] }
  })

const join = (web: string, tls: { ca: string }, name: string) =>
  Effect.gen(function* () {
    const http = yield* Lookup.dispatcher(tls, Option.none())
    const meeting = yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })
    return yield* Client.join({ web, meeting: meeting.id, name, tls, proxy: "none", media: { kinds: ["audio"] } })
  })

layer(serverWithClient, { excludeTestServices: true, timeout: "180 seconds" })("MMR workers", (it) => {
  it.scoped("two worker processes host meetings; a SIGKILLed worker is started again, a SIGSTOPped one killed and started again; SIGTERM stops them all", () =>
    Effect.gen(function* () {
      const { topology, supervisor, pidsOf, metricsPort, output, exited, workers } = yield* deploy("wk1")
      expect(descendants(supervisor.pid!)).toEqual(expect.arrayContaining(workers))
      // Each worker serves its own /metrics: metrics.port + n - 1.
      const served = yield* poll(
        Effect.promise(() => Promise.all([metricsPort, metricsPort + 1].map((p) => fetch(`http://127.0.0.1:${p}/metrics`).then((r) => r.text(), () => "")))),
        (texts) => texts.every((t) => t.includes("meetzone_mmr_capacity")),
        100,
      )
      expect(served[0]).toContain('mmr="m-w1"')
      expect(served[1]).toContain('mmr="m-w2"')
      const web = topology.web[0]!.url
      const tls = { ca: topology.caCert! }

      // Meetings one after another, each placed on the least loaded worker once its load is reported.
      const placed: Array<string> = []
      for (let i = 0; i < 6 && new Set(placed).size < 2; i++) {
        const session = yield* join(web, tls, `p${i}`)
        placed.push(session.mmr)
        const report = yield* session.finalReport
        expect(report.media?.map((m) => m.transport), `${session.mmr}: ${output()}`).toEqual(["udp"])
        yield* Effect.sleep("500 millis")
      }
      expect(new Set(placed)).toEqual(new Set(["m-w1", "m-w2"]))

      // A worker dies without a word: the supervisor starts it again, the other keeps running.
      process.kill(workers[0]!, "SIGKILL")
      const again = yield* poll(Effect.sync(() => pidsOf(1)), (pids) => pids.length === 2, 300)
      expect(again.length, output()).toBe(2)
      expect(again[1]).not.toBe(workers[0])
      expect(output()).toContain(`mmr worker eu-west/m-w1 (pid ${workers[0]}) was killed by SIGKILL; starting it again in 100ms`)
      expect(alive(workers[1]!)).toBe(true)
      // The new incarnation hosts meetings again.
      const afterRestart = yield* poll(Effect.map(join(web, tls, "late"), (s) => s.mmr), () => true, 0)
      expect(["m-w1", "m-w2"]).toContain(afterRestart)

      // A worker frozen (SIGSTOP): no heartbeat for workerStall, so it is killed and started again.
      process.kill(workers[1]!, "SIGSTOP")
      const thawed = yield* poll(Effect.sync(() => pidsOf(2)), (pids) => pids.length === 2, 300)
      expect(thawed.length, output()).toBe(2)
      expect(output()).toContain(`mmr worker eu-west/m-w2 (pid ${workers[1]}) sent no heartbeat for 3s (frozen) and was killed`)
      expect(alive(workers[1]!)).toBe(false)

      // SIGTERM: every worker drains and stops, then the supervisor exits 0.
      process.kill(supervisor.pid!, "SIGTERM")
      const end = yield* exited.pipe(Effect.timeout("30 seconds"))
      expect(end.code, output()).toBe(0)
      expect([again[1]!, thawed[1]!].filter(alive)).toEqual([])
    }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("a supervisor SIGKILLed leaves no worker behind", () =>
    Effect.gen(function* () {
      const { supervisor, workers, output } = yield* deploy("wk2")
      process.kill(supervisor.pid!, "SIGKILL")
      const left = yield* poll(Effect.sync(() => workers.filter(alive)), (l) => l.length === 0, 300)
      expect(left, output()).toEqual([])
    }),
  )
})
