/**
 * The connection process across a real network boundary: the client runs
 * (as the `meetzone` CLI) in a network namespace of its own, joined to the
 * servers by a veth pair, with nftables rules making each condition. The join
 * report must show the path the network allows. Needs root.
 *
 *   nothing blocked                  → UDP (and tcpdump sees each kind's DSCP, both ways)
 *   UDP to the media ports blocked   → TCP
 *   only TLS ports open              → TLS (control through the relay)
 *   only an HTTP proxy reachable     → TLS through the proxy (tinyproxy), HTTPS_PROXY set
 *   only the web tier and the tunnels → the HTTP tunnel, media both ways inside it
 *   only the web tier                 → the web-client result (exit status 2, its URL printed)
 *   NATS and the relay silently dropped, the tunnels open → the tunnel, 5.5 s after zone selection began
 *   30 % loss on video's UDP mid-meeting → video to TCP and back once it is gone; audio and content stay on UDP
 */
import { spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, layer } from "@effect/vitest"
import type { Duration } from "effect"
import { Context, Effect, Fiber, Layer, Option } from "effect"
import * as Lookup from "../../src/actors/client/lookup.js"
import * as ControlPlane from "../../src/topology/control-plane.js"
import type { JoinReport } from "../../src/protocol/join-report.js"
import type { Diagnosis } from "../../src/apps/doctor-verdict.js"
import { defaultDscp } from "../../src/protocol/media.js"
import * as NatsServer from "../../src/transports/nats/server.js"
import * as Netns from "../../scripts/netns.js"
import * as Tinyproxy from "../support/tinyproxy.js"
import * as TestTopology from "../support/topology.js"

interface World {
  readonly ns: Netns.Netns
  readonly web: string
  readonly webPort: number
  readonly caFile: string
  readonly meeting: string
  readonly mediaPorts: ReadonlyArray<number>
  readonly tlsPorts: ReadonlyArray<number>
  readonly tunnelPorts: ReadonlyArray<number>
  readonly proxy: Tinyproxy.Tinyproxy
  /** Participants in the meeting now, across the MMRs. */
  readonly participants: Effect.Effect<number>
}
class TheWorld extends Context.Tag("test/TheWorld")<TheWorld, World>() {}

/** Servers on this host's end of the veth, advertising that address; a client namespace. */
const world = Layer.scoped(
  TheWorld,
  Effect.gen(function* () {
    const ns = yield* Netns.create
    const nats = yield* Effect.orDie(NatsServer.start({ host: ns.hostIp }))
    const plane = yield* Layer.build(ControlPlane.natsLayer({ servers: nats.url, name: "net-test" }))
    const { topology, web, tls } = yield* TestTopology.start(
      TestTopology.twoZones({
        prefix: "net",
        web: [{ id: "web", host: ns.hostIp, port: 0, trustedProxies: [] }],
        tunnels: [
          { id: "net-tunnel-1", host: ns.hostIp },
          { id: "net-tunnel-2", host: ns.hostIp },
        ],
        zones: [
          {
            id: "eu-west",
            location: { lat: 53.35, lon: -6.26 },
            controllers: [{ id: "c1" }, { id: "c2" }],
            mmrs: [{ id: "net-mmr-1", bindHost: ns.hostIp }, { id: "net-mmr-2", bindHost: ns.hostIp }],
          },
        ],
      }),
      [nats.url],
    ).pipe(Effect.provide(plane))
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "meetzone-net-"))),
      (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
    )
    const caFile = join(dir, "ca.pem")
    yield* Effect.promise(() => writeFile(caFile, tls.ca))
    const http = yield* Lookup.dispatcher(tls, Option.none())
    const meeting = (yield* Effect.orDie(Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 }))).id
    const proxy = yield* Tinyproxy.start({ listen: ns.hostIp, allow: ns.nsIp })
    const media = topology.mmrs.map((m) => m.handle.media!.endpoints)
    return {
      ns,
      web,
      webPort: Number(new URL(web).port),
      caFile,
      meeting,
      mediaPorts: media.map((e) => e.port),
      tlsPorts: media.map((e) => e.tlsPort),
      tunnelPorts: topology.tunnels.map((t) => Number(new URL(t.url).port)),
      proxy,
      participants: Effect.map(
        Effect.forEach(topology.mmrs, (m) => m.handle.meetings),
        (all) => all.reduce((n, meetings) => n + (meetings.get(meeting)?.length ?? 0), 0),
      ),
    }
  }),
)

/** `meetzone client join` inside the namespace; its JSON report. */
const joinFromNamespace = (w: World, env: Record<string, string> = {}, expectedCode = 0, seconds = 1.5) =>
  Effect.gen(function* () {
    const { code, stdout, stderr } = yield* w.ns.run(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/apps/meetzone.ts",
        "client",
        "join",
        w.meeting,
        "--web",
        w.web,
        "--ca",
        w.caFile,
        "--media",
        "audio,video,content",
        "--duration",
        String(seconds),
        "--json",
      ],
      { env },
    )
    expect(code, `client exited ${code}\n${stdout}\n${stderr}`).toBe(expectedCode)
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as JoinReport
  })

/** `meetzone doctor --json` inside the namespace, in whatever condition the test set up. */
const doctorFromNamespace = (w: World, env: Record<string, string> = {}, expectedCode = 0) =>
  Effect.gen(function* () {
    const { code, stdout, stderr } = yield* w.ns.run(
      process.execPath,
      ["--import", "tsx", "src/apps/meetzone.ts", "doctor", "--web", w.web, "--ca", w.caFile, "--json"],
      { env },
    )
    expect(code, `doctor exited ${code}\n${stdout}\n${stderr}`).toBe(expectedCode)
    return JSON.parse(stdout.trim().split("\n").at(-1)!) as Diagnosis
  })

/** The doctor, run in the same condition as a real join, names the path and transport that join took. */
const expectDoctorToName = (w: World, report: JoinReport, env: Record<string, string> = {}, expectedCode = 0) =>
  Effect.gen(function* () {
    const d = yield* doctorFromNamespace(w, env, expectedCode)
    expect(d.verdict.path, d.verdict.why).toBe(report.path)
    expect(d.verdict.transport, d.verdict.why).toBe(report.path === "web-client" ? undefined : report.media?.[0]?.transport)
    return d
  })

/** A second participant in the root namespace, so the client has media coming back. */
const peer = (w: World) =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(
          process.execPath,
          ["--import", "tsx", "src/apps/meetzone.ts", "client", "join", w.meeting, "--web", w.web, "--ca", w.caFile, "--media", "audio,video,content", "--duration", "600", "--name", "Peer"],
          { stdio: "ignore" },
        ),
      ),
      // It stays until the test ends (by its PID), however long the client takes to start on a loaded machine.
      (c) => Effect.sync(() => c.kill("SIGTERM")),
    )
    // Joined (the MMR counts it; a loaded machine takes longer than an idle one), then sending for a moment.
    const before = yield* w.participants
    for (let i = 0; i < 300 && (yield* w.participants) <= before; i++) yield* Effect.sleep("100 millis")
    yield* Effect.sleep("500 millis")
    return child
  })

/** A 26 s (or `seconds`) meeting of the client (in the namespace) and a peer, nothing blocked; returns once the client is in it and its media has run `settle`. */
const longMeeting = (w: World, settle: Duration.DurationInput, seconds = 26) =>
  Effect.gen(function* () {
    yield* w.ns.firewall("flush ruleset")
    yield* peer(w)
    const client = yield* Effect.fork(joinFromNamespace(w, {}, 0, seconds))
    for (let i = 0; i < 300 && (yield* w.participants) < 2; i++) yield* Effect.sleep("50 millis")
    yield* Effect.sleep(settle)
    return client
  })

const mediaOf = (report: JoinReport) => Object.fromEntries((report.media ?? []).map((m) => [m.kind, m]))
/** Each kind's transport; a kind that did not connect is missing, so the comparison fails. */
const transportsOf = (report: JoinReport) => Object.fromEntries((report.media ?? []).map((m) => [m.kind, m.transport]))

layer(world, { excludeTestServices: true, timeout: "180 seconds" })("connection process across a network boundary", (it) => {
  it.scoped("with nothing blocked, takes UDP, and tcpdump sees each kind's DSCP mark in both directions", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      yield* w.ns.firewall("flush ruleset")
      yield* peer(w)
      const capture = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const p = spawn("tcpdump", ["-i", w.ns.hostInterface, "-n", "-v", "-l", "udp", "and", "host", w.ns.nsIp], {
            stdio: ["ignore", "pipe", "pipe"],
          })
          let text = ""
          p.stdout.on("data", (c: Buffer) => void (text += c))
          return { p, text: () => text }
        }),
        ({ p }) => Effect.sync(() => p.kill("SIGTERM")),
      )
      yield* Effect.sleep("500 millis") // tcpdump is listening
      const report = yield* joinFromNamespace(w)
      expect(report.path).toBe("direct")
      const media = mediaOf(report)
      for (const kind of ["audio", "video", "content"]) {
        expect(media[kind]).toMatchObject({ transport: "udp", marked: true })
        expect(media[kind]!.receivedFrom["Peer"]).toBeGreaterThan(0)
      }
      yield* Effect.sleep("300 millis")
      const packets = [...capture.text().matchAll(/IP \(tos (0x[0-9a-f]+),[^\n]*\n\s+([\d.]+)\.(\d+) > ([\d.]+)\.(\d+): UDP, length (\d+)/g)].map(
        ([, tos, src, srcPort, dst, dstPort, length]) => ({ tos: Number(tos), src, srcPort: Number(srcPort), dst, dstPort: Number(dstPort), length: Number(length) }),
      )
      expect(packets.length).toBeGreaterThan(100)
      for (const kind of ["audio", "video", "content"] as const) {
        const port = Number(media[kind]!.local.split(":").at(-1))
        const mark = media[kind]!.dscp << 2
        const out = packets.filter((p) => p.src === w.ns.nsIp && p.srcPort === port)
        // Media back (RTP/SRTP, 100 B and more): a STUN answer to a source the MMR does not (or no longer) bind goes
        // unmarked — it cannot know the kind — and one can cross the client's leave at the end.
        const back = packets.filter((p) => p.dst === w.ns.nsIp && p.dstPort === port && p.length >= 100)
        expect(out.length, `${kind} packets from the client`).toBeGreaterThan(0)
        expect(back.length, `${kind} packets to the client`).toBeGreaterThan(0)
        expect(new Set(out.map((p) => p.tos)), `${kind} marks from the client`).toEqual(new Set([mark]))
        expect(new Set(back.map((p) => p.tos)), `${kind} marks from the MMR`).toEqual(new Set([mark]))
      }
      const d = yield* expectDoctorToName(w, report)
      expect(d.firewall).toEqual([])
      for (const t of ["UDP", "TCP", "TLS"]) expect(d.rows.find((r) => r.step === `media ${t}`)!.detail, t).toMatch(/^rtt [\d.]+ ms, loss 0 %, DSCP 46 marked$/)
    }),
  )

  it.scoped("with UDP to the media ports blocked, falls back to TCP", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      yield* w.ns.firewall(Netns.blockUdpPorts(w.ns.hostIp, w.mediaPorts))
      const report = yield* joinFromNamespace(w)
      expect(report.path).toBe("direct")
      expect(transportsOf(report)).toEqual({ audio: "tcp", video: "tcp", content: "tcp" })
      const dials = report.phases.find((p) => p.name === "media")!.attempts
      expect(dials.filter((a) => a.target.endsWith("/udp")).every((a) => a.outcome !== "ok")).toBe(true)
      const d = yield* expectDoctorToName(w, report)
      expect(d.rows.find((r) => r.step === "media UDP")!.outcome).toBe("failed")
      expect(d.firewall.some((l) => l.startsWith("UDP "))).toBe(true)
    }),
  )

  it.scoped("with only TLS ports open, goes to TLS, and reaches the controllers through the relay", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      yield* w.ns.firewall(Netns.onlyTcpPorts(w.ns.hostIp, [w.webPort, ...w.tlsPorts]))
      const report = yield* joinFromNamespace(w)
      expect(report.path).toBe("direct")
      expect(transportsOf(report)).toEqual({ audio: "tls", video: "tls", content: "tls" })
      const selection = report.phases.find((p) => p.name === "zone-selection")!
      expect(selection.attempts.some((a) => a.action === "control via relay")).toBe(true)
      const d = yield* expectDoctorToName(w, report)
      expect(d.rows.filter((r) => r.step === "control").map((r) => r.detail)).toContain("control via relay")
    }),
  )

  it.scoped("with only an HTTP proxy reachable and HTTPS_PROXY set, goes straight to TLS through the proxy", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      yield* w.ns.firewall(Netns.onlyTcpPorts(w.ns.hostIp, [w.proxy.port]))
      const report = yield* joinFromNamespace(w, { HTTPS_PROXY: w.proxy.url })
      expect(report.path).toBe("proxy")
      expect(report.proxy).toBe(w.proxy.url)
      expect(transportsOf(report)).toEqual({ audio: "tls", video: "tls", content: "tls" })
      const dials = report.phases.find((p) => p.name === "media")!.attempts
      expect(dials.map((a) => a.target.split("/")[1])).toEqual(["tls", "tls", "tls"])
      const d = yield* expectDoctorToName(w, report, { HTTPS_PROXY: w.proxy.url })
      expect(d.proxy).toBe(w.proxy.url)
    }),
  )

  it.scoped("with only the web tier and the tunnels reachable, joins through the tunnel with media both ways", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      yield* w.ns.firewall(Netns.onlyTcpPorts(w.ns.hostIp, [w.webPort, ...w.tunnelPorts]))
      yield* peer(w)
      const report = yield* joinFromNamespace(w)
      expect(report.path).toBe("tunnel")
      // Controllers answered through the web tier's relay; the MMR's media ports did not: the tunnel carried media.
      expect(report.phases.find((p) => p.name === "media")!.outcome).toBe("failed")
      const tunnel = report.phases.find((p) => p.name === "tunnel")!
      expect(tunnel.outcome).toBe("ok")
      expect(tunnel.attempts.filter((a) => a.action === "ping")).toHaveLength(2)
      const media = mediaOf(report)
      for (const kind of ["audio", "video", "content"]) {
        expect(media[kind]!.transport).toBe("tunnel")
        expect(media[kind]!.sent).toBeGreaterThan(0)
        expect(media[kind]!.receivedFrom["Peer"], `${kind} from Peer, through the tunnel`).toBeGreaterThan(0)
      }
      const d = yield* expectDoctorToName(w, report)
      expect(d.rows.filter((r) => r.step === "tunnel").map((r) => r.outcome)).toEqual(["ok", "ok"])
      expect(d.rows.find((r) => r.step === "tunnel media")!.detail).toMatch(/rtt [\d.]+ ms/)
    }),
  )

  it.scoped("with NATS and the relay silently dropped and the tunnels open, takes the tunnel 5.5 s after zone selection began (one deadline, not NATS's 1.5 s and then a fresh 5.5 s)", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      // The lookup gets its one connection to the web tier; the relay's WebSocket after it is silently dropped, as is NATS.
      yield* w.ns.firewall(Netns.onlyTcpPorts(w.ns.hostIp, w.tunnelPorts, w.webPort))
      const report = yield* joinFromNamespace(w)
      expect(report.path).toBe("tunnel")
      const selection = report.phases.find((p) => p.name === "zone-selection")!
      const tunnel = report.phases.find((p) => p.name === "tunnel")!
      expect(selection.outcome).toBe("failed")
      expect(selection.attempts.filter((a) => a.action === "connect").map((a) => a.outcome)).not.toContain("ok")
      const waited = tunnel.startMs - selection.startMs
      expect(waited, "ms from the start of zone selection to the tunnel").toBeGreaterThanOrEqual(5_400)
      expect(waited, "ms from the start of zone selection to the tunnel").toBeLessThanOrEqual(5_500 + 300)
    }),
  )

  it.scoped("with 30 % loss on video's UDP path mid-meeting, video moves to TCP within seconds and back once the loss is gone; audio and content stay on UDP", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      // Joined, and its media up on UDP for two seconds.
      const client = yield* longMeeting(w, "2 seconds")
      const lossFrom = Date.now()
      // Video's class only (DSCP AF41), both ways: its media and its UDP probes.
      yield* w.ns.firewall(Netns.udpLoss(w.ns.hostIp, w.mediaPorts, defaultDscp.video, 30))
      yield* Effect.sleep("8 seconds")
      yield* w.ns.firewall("flush ruleset")
      const lossUntil = Date.now()
      const report = yield* Fiber.join(client)
      const media = mediaOf(report)
      for (const kind of ["audio", "content"]) {
        expect(media[kind]!.transport, `${kind} at the end`).toBe("udp")
        expect(media[kind]!.changes, `${kind} changes`).toBeUndefined()
      }
      expect(media["video"]!.transport).toBe("udp")
      const changes = media["video"]!.changes ?? []
      expect(changes.map((c) => `${c.from}→${c.to}`)).toEqual(["udp→tcp", "tcp→udp"])
      const wall = (atMs: number) => Date.parse(report.startedAt) + atMs
      expect(wall(changes[0]!.atMs) - lossFrom, "ms from the loss to the move to TCP").toBeGreaterThan(0)
      expect(wall(changes[0]!.atMs) - lossFrom, "ms from the loss to the move to TCP").toBeLessThan(6_000)
      expect(wall(changes[1]!.atMs), "back on UDP only once the loss is gone").toBeGreaterThan(lossUntil)
      expect(media["video"]!.receivedFrom["Peer"]).toBeGreaterThan(0)
    }),
  )

  it.scoped("with 30 % loss on video's UDP path switched on and off every 3 s, video changes transport at most twice (it does not flap)", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      const client = yield* longMeeting(w, "1 second")
      for (let round = 0; round < 4; round++) {
        yield* w.ns.firewall(Netns.udpLoss(w.ns.hostIp, w.mediaPorts, defaultDscp.video, 30))
        yield* Effect.sleep("3 seconds")
        yield* w.ns.firewall("flush ruleset")
        yield* Effect.sleep("3 seconds")
      }
      const report = yield* Fiber.join(client)
      const media = mediaOf(report)
      expect((media["video"]!.changes ?? []).length, JSON.stringify(media["video"]!.changes)).toBeLessThanOrEqual(2)
      for (const kind of ["audio", "content"]) expect(media[kind]!.changes, `${kind} changes`).toBeUndefined()
    }),
  )

  it.scoped("with the client's address replaced mid-meeting, every kind's media flows again from the new address within a second: same participant, same MMR, no re-join", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      const client = yield* longMeeting(w, "2 seconds", 10)
      const changedAt = Date.now()
      const moved = yield* w.ns.replaceAddress
      const report = yield* Fiber.join(client)
      const media = mediaOf(report)
      // No move to another MMR and no second join: the session it started with, to the end.
      expect(report.moves, JSON.stringify(report.moves)).toBeUndefined()
      const wall = (atMs: number) => Date.parse(report.startedAt) + atMs
      for (const kind of ["audio", "video", "content"]) {
        const m = media[kind]!
        const change = (m.changes ?? []).find((c) => c.why.startsWith("network changed"))
        expect(change, `${kind}: ${JSON.stringify(m.changes)}`).toBeDefined()
        expect(wall(change!.atMs) - changedAt, `${kind}: ms from the address change to media again`).toBeLessThan(1_000)
        expect(change!.to).toBe("udp")
        expect(m.local, `${kind} ends on the new address`).toMatch(new RegExp(`^${moved.replaceAll(".", "\\.")}:`))
        expect(m.status).toBe("open")
        expect(m.receivedFrom["Peer"]).toBeGreaterThan(0)
        console.log(`${kind}: ${wall(change!.atMs) - changedAt} ms after the change: ${change!.why}`)
      }
    }),
  )

  it.scoped("with nothing but the web tier reachable, ends with the web client: exit status 2 and its URL", () =>
    Effect.gen(function* () {
      const w = yield* TheWorld
      yield* w.ns.firewall(Netns.onlyTcpPorts(w.ns.hostIp, [w.webPort]))
      const report = yield* joinFromNamespace(w, {}, 2)
      expect(report.path).toBe("web-client")
      expect(report.webClient?.url).toBe(`${w.web}/j/${w.meeting}`)
      const reasons = report.webClient?.reasons ?? {}
      expect(Object.keys(reasons).sort()).toEqual(["direct", "tunnel"])
      expect(report.phases.find((p) => p.name === "tunnel")!.outcome).not.toBe("ok")
      const d = yield* expectDoctorToName(w, report, {}, 2)
      expect(d.firewall.filter((l) => l.includes("HTTP tunnel"))).toHaveLength(2)
    }),
  )
})
