/**
 * A gray failure across a real network boundary: an MMR whose control plane
 * answers but whose media port is blackholed (nftables drops every packet the
 * participants send to it) is failed over on evidence. The participants run
 * (as the `meetzone` CLI) in a network namespace of their own; their consent
 * checks go unanswered, they report the MMR mute, the controllers see a
 * quorum of the meeting's participants say so and move the meeting; the old
 * MMR, alive, stops serving it. One voice alone (a liar, or one broken
 * network) moves nothing. Needs root.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option } from "effect"
import * as Lookup from "../../src/actors/client/lookup.js"
import { Assign } from "../../src/protocol/controller.js"
import type { JoinReport } from "../../src/protocol/join-report.js"
import * as Subjects from "../../src/protocol/subjects.js"
import { ask } from "../../src/runtime/Ask.js"
import type { ControlBusShape } from "../../src/runtime/ControlBus.js"
import { ControlBus } from "../../src/runtime/ControlBus.js"
import type * as Topology from "../../src/topology/Topology.js"
import * as ControlPlane from "../../src/topology/control-plane.js"
import * as NatsServer from "../../src/transports/nats/server.js"
import * as Netns from "../../scripts/netns.js"
import { poll } from "../support/poll.js"
import * as TestTopology from "../support/topology.js"

interface World {
  readonly ns: Netns.Netns
  readonly web: string
  readonly caFile: string
  readonly ca: string
  readonly topology: Topology.Topology
  readonly bus: ControlBusShape
}
class TheWorld extends Context.Tag("test/GrayWorld")<TheWorld, World>() {}

const world = Layer.scoped(
  TheWorld,
  Effect.gen(function* () {
    const ns = yield* Netns.create
    const nats = yield* Effect.orDie(NatsServer.start({ host: ns.hostIp }))
    const plane = yield* Layer.build(ControlPlane.natsLayer({ servers: nats.url, name: "gray-test" }))
    const { topology, web, tls } = yield* TestTopology.start(
      TestTopology.twoZones({
        prefix: "gray",
        web: [{ id: "web", host: ns.hostIp, port: 0, trustedProxies: [] }],
        tunnels: [],
        zones: [
          {
            id: "eu-west",
            location: { lat: 53.35, lon: -6.26 },
            controllers: [{ id: "c1" }, { id: "c2" }],
            mmrs: [{ id: "gray-mmr-1", bindHost: ns.hostIp }, { id: "gray-mmr-2", bindHost: ns.hostIp }],
          },
        ],
      }),
      [nats.url],
    ).pipe(Effect.provide(plane))
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "meetzone-gray-"))),
      (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
    )
    const caFile = join(dir, "ca.pem")
    yield* Effect.promise(() => writeFile(caFile, tls.ca))
    return { ns, web, caFile, ca: tls.ca, topology, bus: Context.get(plane, ControlBus) }
  }),
)

/** Two participants, each `meetzone client join` inside the namespace for `seconds`; their JSON reports when they end. */
const participantsInNamespace = (w: World, meeting: string, names: ReadonlyArray<string>, seconds: number) =>
  Effect.forEach(names, (name) =>
    w.ns
      .run(
        process.execPath,
        ["--import", "tsx", "src/apps/meetzone.ts", "client", "join", meeting, "--web", w.web, "--ca", w.caFile, "--name", name, "--media", "audio", "--duration", String(seconds), "--json"],
        { timeoutMs: (seconds + 30) * 1000 },
      )
      .pipe(
        Effect.map(({ code, stdout, stderr }) => {
          expect(code, `${name} exited ${code}\n${stdout}\n${stderr}`).toBe(0)
          return JSON.parse(stdout.trim().split("\n").at(-1)!) as JoinReport
        }),
        Effect.fork,
      ),
  )

const hostOf = (w: World, meeting: string) =>
  poll(
    Effect.map(
      Effect.forEach(w.topology.mmrs, (m) => Effect.map(m.handle.meetings, (ms) => ({ m, n: ms.get(meeting)?.length ?? 0 }))),
      (all) => all.find((x) => x.n === 2)?.m,
    ),
    (m) => m !== undefined,
    300, // each client is a CLI process started with tsx: slow on a busy machine
  ).pipe(Effect.flatMap((m) => (m === undefined ? Effect.dieMessage(`meeting ${meeting} never had both participants on one MMR`) : Effect.succeed(m))))

/** Packets the MMR got from each of the meeting's participants. */
const packetsIn = (m: Topology.Topology["mmrs"][number], meeting: string) =>
  Effect.map(m.handle.meetings, (ms) =>
    (ms.get(meeting) ?? []).map((p) => m.handle.media!.sfu.participantStats(meeting, p.id)?.audio.packetsIn ?? 0),
  )

layer(world, { excludeTestServices: true, timeout: "180 seconds" })("gray failure: media blackholed, control alive", (it) => {
  it.scoped("participants' consent checks go unanswered, a quorum reports the MMR mute, the meeting moves, media flows again; the old MMR stops serving it", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      yield* w.ns.firewall("flush ruleset")
      const http = yield* Lookup.dispatcher({ ca: w.ca }, Option.none())
      const meeting = (yield* Lookup.createMeeting(http, new URL(w.web), { topic: "gray", timeoutMs: 5000 })).id
      const running = yield* participantsInNamespace(w, meeting, ["Ada", "Bob"], 9)
      const host = yield* hostOf(w, meeting)
      const other = w.topology.mmrs.find((m) => m !== host)!
      yield* poll(packetsIn(host, meeting), (ns) => ns.length === 2 && ns.every((n) => n > 10), 100)

      // Outsiders' word moves nothing: two valid join tokens of people who never took a seat say the
      // MMR is mute while the two in the meeting are fine (its media port answers the controller). As
      // many as the meeting has participants, they would be a quorum if tokens alone counted.
      const subjects = Subjects.make("gray")
      for (const name of ["Mallory", "Trudy"]) {
        const liar = yield* Lookup.joinInfo(http, new URL(w.web), meeting, { name, timeoutMs: 5000 })
        const kept = yield* ask(subjects.zoneAssign("eu-west"), new Assign({ meeting, token: liar.joinToken, suspect: host.id, evidence: "mute" }), { timeout: "3 seconds" }).pipe(
          Effect.provideService(ControlBus, w.bus),
          Effect.orDie,
        )
        expect(kept.mmr).toBe(host.id)
      }
      const unconfirmed = w.topology.controllers.reduce((n, c) => n + c.handle.stats().mute.unconfirmed, 0)
      expect(unconfirmed).toBe(2)

      // The media port of the hosting MMR blackholed, both ways of reaching it (UDP, TCP, TLS): its control stays up.
      const media = host.handle.media!.endpoints
      yield* w.ns.firewall(`
table inet meetzone {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr ${w.ns.hostIp} udp dport ${media.port} drop
    ip daddr ${w.ns.hostIp} tcp dport { ${media.port}, ${media.tlsPort} } drop
  }
}`)
      const cutAt = performance.now()
      // Media flows again, both participants sending through the other MMR.
      const flowing = yield* poll(packetsIn(other, meeting), (ns) => ns.length === 2 && ns.every((n) => n > 5), 50)
      const flowingMs = Math.round(performance.now() - cutAt)
      expect(flowing).toHaveLength(2)

      const reports = yield* Effect.forEach(running, Fiber.join)
      for (const r of reports) {
        expect(r.mmr, JSON.stringify(r.moves)).toBe(other.id)
        const move = r.moves?.find((m) => m.outcome === "ok")
        // Each moved on its own evidence, or followed the MMR's word that the meeting moved (whoever was second).
        expect(move, JSON.stringify(r.moves)).toMatchObject({ from: host.id, to: other.id })
        expect(["mute", "leaving"]).toContain(move!.reason)
        expect(r.media?.[0]?.receivedFrom[r === reports[0] ? "Bob" : "Ada"], JSON.stringify(r.media)).toBeGreaterThan(0)
      }
      expect(reports.some((r) => r.moves?.some((m) => m.reason === "mute" && m.outcome === "ok"))).toBe(true)
      const confirmed = w.topology.controllers.reduce((n, c) => n + c.handle.stats().mute.confirmed, 0)
      expect(confirmed).toBeGreaterThanOrEqual(1)
      // The old MMR, alive all along, serves nothing of the meeting.
      expect((yield* host.handle.meetings).has(meeting)).toBe(false)
      expect(host.handle.fenced()).toBeGreaterThanOrEqual(1)
      console.log(`media port blackholed → media flowing through ${other.id} after ${flowingMs} ms; moves: ${reports.map((r) => JSON.stringify(r.moves)).join(" ")}`)
      expect(flowingMs).toBeLessThan(5000)
    }),
  )
})
