/**
 * The multi-host example run for real on this machine: a 3-node NATS
 * cluster and every actor in its own process (scripts/distributed-run.ts).
 * A client joins through them; SIGTERM to the MMR hosting a meeting moves
 * its participants to another MMR, and the meeting goes on.
 */
import { layer } from "@effect/vitest"
import type { Scope } from "effect"
import { Context, Effect, Fiber, Layer, Option, Stream } from "effect"
import { expect } from "vitest"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import type { OpsState } from "../../src/protocol/web-api.js"
import * as Connector from "../../src/transports/connector.js"
import { readFile } from "node:fs/promises"
import * as Distributed from "../../scripts/distributed-run.js"
import { BusError } from "../../src/protocol/errors.js"
import { meetzone } from "../support/cli.js"
import * as Tinyproxy from "../support/tinyproxy.js"
import * as Browser from "../support/browser.js"
import type { Page } from "playwright-core"
import { poll } from "../support/poll.js"
import * as Prometheus from "../support/prometheus.js"

class Deployment extends Context.Tag("test/Deployment")<Deployment, Distributed.Deployment>() {}

const deployment = Layer.scoped(
  Deployment,
  // A short grace keeps the test quick; moving takes well under a second.
  Distributed.deploy({
    env: {
      MEETZONE__TIMING__DRAIN_GRACE: "8 seconds",
      // The join storm comes from one address (this test): the per-address limit would refuse it.
      MEETZONE__WEB__0__LIMITS__JOIN_INFO__PER_MINUTE: "100000",
      MEETZONE__WEB__0__LIMITS__JOIN_INFO__BURST: "10000",
      MEETZONE__WEB__0__LIMITS__CREATE_MEETING__PER_MINUTE: "6000",
      MEETZONE__WEB__0__LIMITS__CREATE_MEETING__BURST: "1000",
    },
  }).pipe(Effect.orDie),
)

/** The JSON log lines of a process (its stderr), parsed. */
const logLines = (p: Distributed.ActorProcess) =>
  p
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { message: unknown; logLevel: string; annotations: Record<string, unknown> })

const opsState = (d: Distributed.Deployment, token = d.opsToken) =>
  Effect.promise(async () => {
    const { Agent, fetch } = await import("undici")
    const ca = await readFile(d.caFile, "utf8")
    const r = await fetch(`${d.web}/ops/api/state`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: new Agent({ connect: { ca } }),
    })
    return { status: r.status, body: (await r.json()) as OpsState }
  })

/** The deployment's CA (for TLS) and new meetings at its web tier. */
const webOf = (d: Distributed.Deployment) =>
  Effect.gen(function* () {
    const tls = { ca: yield* Effect.promise(() => readFile(d.caFile, "utf8")) }
    const http = yield* Lookup.dispatcher(tls, Option.none())
    const newMeeting = (topic: string) => Effect.map(Lookup.createMeeting(http, new URL(d.web), { topic, timeoutMs: 5000 }), (m) => m.id)
    return { tls, newMeeting }
  })

/** The received audio of a session so far. */
const receivedBy = (s: Client.JoinSession) => Effect.map(s.finalReport, (r) => (r.media ?? []).reduce((n, m) => n + m.received, 0))

/** Two participants with audio in a new meeting, on one MMR: which, and when each join began (test time). */
const twoOnOneMmr = (d: Distributed.Deployment, topic: string, names: readonly [string, string]) =>
  Effect.gen(function* () {
    const { tls, newMeeting } = yield* webOf(d)
    const meeting = yield* newMeeting(topic)
    const startedAt: Array<number> = []
    const sessions = yield* Effect.forEach(names, (name) =>
      Effect.suspend(() => {
        startedAt.push(performance.now())
        return Client.join({ web: d.web, meeting, name, tls, proxy: "none", media: { kinds: ["audio"] } }).pipe(Effect.provide(Connector.nats))
      }),
    )
    const hostId = sessions[0]!.mmr
    expect(sessions[1]!.mmr, `both joined one MMR: ${JSON.stringify(yield* Effect.forEach(sessions, (s) => s.finalReport))}`).toBe(hostId)
    return { meeting, sessions, startedAt, hostId, host: d.process("mmr", hostId) }
  })

/** How a participant reaches the deployment: NATS, the relay behind a real HTTP proxy, or a tunnel (NATS firewalled). */
type Reach = "direct" | "relay" | "tunnel"

/** A client that reaches nothing of the control plane but the web tier and the tunnels. */
const firewalled = Layer.succeed(Connector.BusConnector, {
  connect: () => Effect.fail(new BusError({ operation: "connect", detail: "firewalled: only HTTPS to the web tier and the tunnels" })),
})

/** Participants with audio in a new meeting, on one MMR, each reaching it its own way. */
const onOneMmr = (d: Distributed.Deployment, topic: string, who: ReadonlyArray<{ readonly name: string; readonly reach: Reach }>) =>
  Effect.gen(function* () {
    const { tls, newMeeting } = yield* webOf(d)
    const meeting = yield* newMeeting(topic)
    const proxy = who.some((w) => w.reach === "relay") ? yield* Tinyproxy.start() : undefined
    const startedAt: Array<number> = []
    const sessions = yield* Effect.forEach(who, ({ name, reach }) =>
      Effect.suspend(() => {
        startedAt.push(performance.now())
        const options = { web: d.web, meeting, name, tls, media: { kinds: ["audio" as const] } }
        return reach === "direct"
          ? Client.join({ ...options, proxy: "none" }).pipe(Effect.provide(Connector.nats))
          : reach === "relay"
            ? Client.join({ ...options, env: { HTTPS_PROXY: proxy!.url } }).pipe(Effect.provide(Connector.nats))
            : Client.join({ ...options, proxy: "none", zoneSelection: { deadlineMs: 400 } }).pipe(Effect.provide(firewalled))
      }),
    )
    const reports = yield* Effect.forEach(sessions, (s) => s.finalReport)
    const paths = reports.map((r) => r.path)
    expect(paths, JSON.stringify(reports.map((r) => r.phases))).toEqual(who.map((w) => (w.reach === "relay" ? "proxy" : w.reach)))
    const hostId = sessions[0]!.mmr
    for (const s of sessions) expect(s.mmr, "everyone joined one MMR").toBe(hostId)
    return { meeting, sessions, startedAt, hostId, host: d.process("mmr", hostId) }
  })

/** The p-th percentile (nearest rank) of `values`. */
const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Brings a killed MMR back, so that the next test has as many MMRs to move to. */
const revive = (d: Distributed.Deployment, mmr: string) =>
  Effect.gen(function* () {
    const now = d.process("mmr", mmr)
    if (now.child.exitCode === null && now.child.signalCode === null) return now // still (or again) running
    const again = yield* d.restart("mmr", mmr).pipe(Effect.orDie)
    // Up, and reporting: the controllers count it live again.
    yield* poll(opsState(d), (s) => s.body.zones.some((z) => z.mmrs.some((m) => m.mmr === mmr)), 100)
    return again
  })

/** SIGKILL of the host, then: every session moved to one other MMR, and receives again. Times from the kill, per session. */
const killAndFollow = (
  d: Distributed.Deployment,
  sessions: ReadonlyArray<Client.JoinSession>,
  startedAt: ReadonlyArray<number>,
  hostId: string,
  host: Distributed.ActorProcess,
) =>
  Effect.gen(function* () {
    // Media flowing again, as each session sees it: from its Moved event to the first packet after it
    // (read from its own counters every 10 ms; watching starts before the kill).
    const received = (s: Client.JoinSession) => (s.media?.report(() => undefined) ?? []).reduce((n, m) => n + m.received, 0)
    const watching = yield* Effect.forEach(sessions, (s) =>
      s.events.pipe(
        Stream.filter((e) => e._tag === "Moved"),
        Stream.runHead,
        Effect.flatMap(() => {
          const base = received(s)
          return poll(Effect.sync(() => received(s)), (n) => n > base, 300, "10 millis")
        }),
        Effect.map(() => performance.now()),
        Effect.fork,
      ),
    )
    yield* Effect.sleep("50 millis") // every watcher subscribed
    const killedAt = performance.now()
    host.child.kill("SIGKILL")
    // Back when the test ends, pass or fail: the next test has as many MMRs to move to.
    yield* Effect.addFinalizer(() => revive(d, hostId).pipe(Effect.ignore))
    const moved = yield* Effect.forEach(sessions, (s) => poll(s.finalReport, (r) => r.moves?.some((m) => m.outcome === "ok") === true, 100), { concurrency: "unbounded" })
    const movedMs = moved.map((r, i) => Math.round(startedAt[i]! + r.moves![0]!.atMs + r.moves![0]!.ms - killedAt))
    for (const r of moved) {
      expect(r.moves?.[0], JSON.stringify(r.moves)).toMatchObject({ from: hostId, outcome: "ok", reason: "crash" })
      expect(r.mmr).not.toBe(hostId)
    }
    expect(new Set(moved.map((r) => r.mmr)).size, "one new MMR for everyone").toBe(1)
    const flowingMs = (yield* Effect.forEach(watching, Fiber.join)).map((at) => Math.round(at - killedAt))
    // And it goes on: each receives more over the next half second.
    const before = sessions.map(received)
    yield* Effect.sleep("500 millis")
    sessions.forEach((s, i) => expect(received(s) - before[i]!, "media after the move").toBeGreaterThan(10))
    expect(yield* host.exited.pipe(Effect.timeout("5 seconds"))).toBe(null) // killed by the signal
    return { moved, movedMs, flowingMs }
  })

/** What the web client's page says of itself (window.meetzone.summary()). */
interface PageState {
  readonly phase: string
  readonly error?: string
  readonly mmr: string
  readonly received: ReadonlyArray<{ readonly from: string; readonly packets: number }>
  readonly moves: ReadonlyArray<{ readonly from: string; readonly to?: string; readonly reason: string; readonly ms: number; readonly outcome: string }>
}

/** Polls the page until `ok` holds (bounded: 20 s). */
const pageUntil = (page: Page, ok: (s: PageState) => boolean, what: string) =>
  Effect.gen(function* () {
    const read = Effect.promise(() => page.evaluate(() => (window as unknown as { meetzone: { summary: () => PageState } }).meetzone.summary()))
    for (let i = 0; i < 200; i++) {
      const s = yield* read
      if (ok(s)) return s
      if (s.phase === "failed") return yield* Effect.dieMessage(`${what}: the page failed: ${s.error}`)
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.dieMessage(`${what}: not within 20 s: ${JSON.stringify(yield* read)}`)
  })

layer(deployment, { excludeTestServices: true, timeout: "240 seconds" })("multi-host example, one process per actor", (it) => {
  it.scoped(
    "a client joins through a 3-node NATS cluster with every actor in its own process; each process counts its part",
    () =>
      Effect.gen(function* () {
        const d = yield* Deployment
        expect(d.processes.map((p) => p.actor.role).sort()).toEqual([
          ...Array(4).fill("controller"),
          ...Array(4).fill("mmr"),
          "tunnel",
          "tunnel",
          "web",
        ])
        expect(new Set(d.processes.map((p) => p.child.pid)).size).toBe(11)
        const created = yield* meetzone(["meeting", "create", "--web", d.web, "--ca", d.caFile])
        const meeting = created.stdout.trim()
        expect(meeting).toMatch(/^\d{10}$/)
        const join = yield* meetzone(["client", "join", meeting, "--web", d.web, "--ca", d.caFile, "--media", "audio", "--duration", "1", "--json"])
        expect(join.code, join.stderr).toBe(0)
        const report = JSON.parse(join.stdout) as { path: string; zone: string; mmr: string; media: ReadonlyArray<{ sent: number }> }
        expect(report.path).toBe("direct")
        expect(report.media[0]!.sent).toBeGreaterThan(20)
        // NATS has auth on: every process connected with its own identity, and none was refused anything it needs.
        for (const p of d.processes) expect(p.output(), p.name).not.toMatch(/Permissions Violation|Authorization Violation/)

        // Each process's /metrics shows its own share of that join.
        const host = d.process("mmr", report.mmr)
        expect(Prometheus.sum(yield* Prometheus.scrape(host.metricsUrl), "meetzone_mmr_packets_total", { kind: "audio", direction: "in" })).toBeGreaterThan(20)
        const zoneControllers = d.processes.filter((p) => p.actor.role === "controller" && p.actor.zone === report.zone)
        const placed = yield* Effect.forEach(zoneControllers, (p) =>
          Effect.map(Prometheus.scrape(p.metricsUrl), (t) => Prometheus.sum(t, "meetzone_placements_total", { outcome: "placed" })),
        )
        expect(placed.reduce((a, b) => a + b, 0)).toBe(1)
        // Its log says so, as JSON with the zone, the controller and the meeting.
        const placing = zoneControllers.flatMap(logLines).find((l) => String(l.message).includes(`placed meeting ${meeting}`))
        expect(placing?.annotations).toMatchObject({ zone: report.zone, meeting })
        expect(placing?.annotations["controller"]).toMatch(/^c[12]$/)
        const web = yield* poll(Prometheus.scrape(d.process("web", "web-1").metricsUrl), (t) => Prometheus.sum(t, "meetzone_joins_total") >= 1)
        expect(Prometheus.sum(web, "meetzone_joins_total", { path: "direct", outcome: "ok" })).toBe(1)

        // The dashboard's data sees the whole deployment through NATS; without the token, nothing.
        const state = yield* opsState(d)
        expect(state.status).toBe(200)
        expect(state.body.zones.flatMap((z) => z.controllers)).toHaveLength(4)
        expect(state.body.zones.flatMap((z) => z.mmrs.map((m) => m.mmr)).sort()).toEqual(["eu-mmr-1", "eu-mmr-2", "us-mmr-1", "us-mmr-2"])
        expect(state.body.tunnels.map((t) => t.id).sort()).toEqual(["tunnel-1", "tunnel-2"])
        expect(state.body.joins[0]).toMatchObject({ meeting, path: "direct", outcome: "ok", mmr: report.mmr })
        expect((yield* opsState(d, "not-the-operator-token")).status).toBe(401)
      }),
    60_000,
  )

  it.scoped("SIGTERM to the MMR hosting a meeting: its participants move to another MMR and the meeting goes on", () =>
    Effect.gen(function* () {
      const d = yield* Deployment
      const { tls, newMeeting } = yield* webOf(d)
      const meeting = yield* newMeeting("sigterm")
      const sessions = yield* Effect.forEach(["Ada", "Bob"], (name) =>
        Client.join({ web: d.web, meeting, name, tls, proxy: "none", media: { kinds: ["audio", "video"] } }).pipe(Effect.provide(Connector.nats)),
      )
      const hostId = sessions[0]!.mmr
      expect(sessions[1]!.mmr).toBe(hostId)
      const host = d.process("mmr", hostId)
      yield* Effect.sleep("500 millis")
      expect(yield* receivedBy(sessions[0]!)).toBeGreaterThan(0)

      host.child.kill("SIGTERM")
      // Both participants move: the report says from where to where, and they end up together.
      const moved = yield* Effect.forEach(sessions, (s) =>
        poll(s.finalReport, (r) => r.moves?.some((m) => m.outcome === "ok") === true, 150),
      )
      for (const r of moved) {
        expect(r.moves?.[0], JSON.stringify(r.moves)).toMatchObject({ from: hostId, outcome: "ok", reason: "leaving" })
        expect(r.mmr).not.toBe(hostId)
      }
      expect(moved[1]!.mmr).toBe(moved[0]!.mmr)

      // The MMR saw everyone go, and stopped cleanly: exit 0, well within its grace.
      const code = yield* host.exited.pipe(Effect.timeout("10 seconds"))
      expect(code, host.output()).toBe(0)
      const said = logLines(host).find((l) => String(l.message).includes("every participant moved"))
      expect(said?.annotations, host.output()).toMatchObject({ zone: host.actor.zone, mmr: hostId })

      // The meeting goes on: media keeps arriving, now through the new MMR.
      const before = yield* Effect.forEach(sessions, receivedBy)
      yield* Effect.sleep("1 second")
      const after = yield* Effect.forEach(sessions, receivedBy)
      expect(after[0]! - before[0]!, "Ada receives Bob after the move").toBeGreaterThan(30)
      expect(after[1]! - before[1]!, "Bob receives Ada after the move").toBeGreaterThan(30)
      const now = d.process("mmr", moved[0]!.mmr!)
      expect(Prometheus.sum(yield* Prometheus.scrape(now.metricsUrl), "meetzone_mmr_packets_total", { direction: "out" })).toBeGreaterThan(30)

      // Its presence is gone: the dashboard no longer lists it, and the meeting is placed elsewhere.
      const state = yield* poll(opsState(d), (s) => !s.body.zones.some((z) => z.mmrs.some((m) => m.mmr === hostId)))
      expect(state.body.zones.flatMap((z) => z.mmrs.map((m) => m.mmr))).not.toContain(hostId)
      expect(state.body.placements.find((p) => p.meeting === meeting)?.mmr).toBe(moved[0]!.mmr)
    }),
    60_000,
  )

  it.scoped("SIGKILL to the MMR hosting a meeting: its participants notice, move together to one new MMR, and media flows again", () =>
    Effect.gen(function* () {
      const d = yield* Deployment
      const { sessions, startedAt, hostId, host } = yield* twoOnOneMmr(d, "sigkill", ["Cy", "Di"])
      yield* Effect.sleep("500 millis")
      expect(yield* receivedBy(sessions[0]!)).toBeGreaterThan(0)

      // Dies without a word: no leaving event, no presence removed.
      const killedAt = performance.now()
      host.child.kill("SIGKILL")
      const moved = yield* Effect.forEach(sessions, (s) => poll(s.finalReport, (r) => r.moves?.some((m) => m.outcome === "ok") === true, 100))
      // From the kill until each session had moved, by its own report (a move's atMs counts from its join's start).
      const detectedMs = moved.map((r, i) => Math.round(startedAt[i]! + r.moves![0]!.atMs - killedAt))
      const movedMs = moved.map((r, i) => Math.round(startedAt[i]! + r.moves![0]!.atMs + r.moves![0]!.ms - killedAt))
      for (const r of moved) {
        expect(r.moves?.[0], JSON.stringify(r.moves)).toMatchObject({ from: hostId, outcome: "ok", reason: "crash" })
        expect(r.mmr).not.toBe(hostId)
      }
      expect(moved[1]!.mmr).toBe(moved[0]!.mmr) // one new MMR for everyone

      // Media flows again for both: from the kill until each receives again, bounded (the goal is ≤ 2 s).
      const flowing = yield* Effect.forEach(sessions, (s) =>
        Effect.gen(function* () {
          const base = yield* receivedBy(s)
          const after = yield* poll(receivedBy(s), (n) => n > base + 5, 100)
          return { received: after - base, ms: performance.now() - killedAt }
        }),
      )
      for (const f of flowing) expect(f.received).toBeGreaterThan(5)
      console.log(`SIGKILL → noticed after ${detectedMs.join(", ")} ms, moved after ${movedMs.join(", ")} ms; media seen again by the test after ${flowing.map((f) => Math.round(f.ms)).join(", ")} ms`)
      for (const ms of movedMs) expect(ms).toBeLessThan(2000)
      expect(yield* host.exited.pipe(Effect.timeout("5 seconds"))).toBe(null) // killed by the signal
    }),
    60_000,
  )

  it.scoped("SIGKILL to the MMR hosting ten participants: all ten on one other MMR, media flowing again within the goal", () =>
    Effect.gen(function* () {
      const d = yield* Deployment
      const who = Array.from({ length: 10 }, (_, i) => ({ name: `P${i + 1}`, reach: "direct" as const }))
      const { sessions, startedAt, hostId, host } = yield* onOneMmr(d, "ten", who)
      yield* Effect.sleep("500 millis")
      const { movedMs, flowingMs } = yield* killAndFollow(d, sessions, startedAt, hostId, host)
      const p50 = percentile(flowingMs, 50)
      const p99 = percentile(flowingMs, 99)
      console.log(
        `SIGKILL, 10 participants → media flowing again after p50 ${p50} ms, p99 ${p99} ms (each: ${flowingMs.join(", ")}); moved after ${movedMs.join(", ")} ms`,
      )
      // The goal: p99 ≤ 2 s, p50 ≤ 1 s from the kill.
      expect(p99).toBeLessThanOrEqual(2000)
      expect(p50).toBeLessThanOrEqual(1000)
    }),
    90_000,
  )

  it.scoped("SIGKILL with every kind of client in the meeting: direct, relayed behind a real HTTP proxy, tunneled — all follow to one new MMR", () =>
    Effect.gen(function* () {
      const d = yield* Deployment
      const { sessions, startedAt, hostId, host } = yield* onOneMmr(d, "every-client", [
        { name: "Direct", reach: "direct" },
        { name: "Relayed", reach: "relay" },
        { name: "Tunneled", reach: "tunnel" },
      ])
      yield* Effect.sleep("800 millis")
      for (const s of sessions) expect(yield* receivedBy(s), "media before the kill").toBeGreaterThan(0)
      const { moved, movedMs, flowingMs } = yield* killAndFollow(d, sessions, startedAt, hostId, host)
      console.log(`SIGKILL, direct/relay/tunnel → moved after ${movedMs.join(", ")} ms; media again after ${flowingMs.join(", ")} ms`)
      // Each kept its path, now to the new MMR.
      expect(moved.map((r) => r.path)).toEqual(["direct", "proxy", "tunnel"])
      for (const r of moved) expect(r.media?.[0]?.status, JSON.stringify(r.media)).toBe("open")
      for (const ms of movedMs) expect(ms).toBeLessThan(2000)
    }),
    90_000,
  )

  it.scoped("a browser in the meeting (Debian's chromium, through a tunnel) follows too: its MMR leaving (SIGTERM), then its new MMR dying (SIGKILL)", () =>
    Effect.gen(function* () {
      const d = yield* Deployment
      const { tls, newMeeting } = yield* webOf(d)
      const meeting = yield* newMeeting("browser moves")
      const bob = yield* Client.join({ web: d.web, meeting, name: "Bob", tls, proxy: "none", media: { kinds: ["audio", "video"] } }).pipe(
        Effect.provide(Connector.nats),
      )
      const { context } = yield* Browser.launch
      const page = yield* Effect.promise(() => context.newPage())
      yield* Effect.promise(() => page.goto(`${d.web}/j/${meeting}`))
      yield* Effect.promise(() => page.fill("#name", "Ada"))
      yield* Effect.promise(() => page.click("button[type=submit]"))
      const fromBob = (s: PageState) => s.received.filter((r) => r.from === "Bob").reduce((n, r) => n + r.packets, 0)
      const joined = yield* pageUntil(page, (s) => s.phase === "joined" && fromBob(s) > 10, "the page joined and hears Bob")
      expect(joined.mmr).toBe(bob.mmr)

      for (const [signal, reason] of [["SIGTERM", "leaving"], ["SIGKILL", "crash"]] as const) {
        const before = yield* pageUntil(page, () => true, "")
        const hostId = before.mmr
        const host = d.process("mmr", hostId)
        host.child.kill(signal)
        yield* Effect.addFinalizer(() => revive(d, hostId).pipe(Effect.ignore))
        const after = yield* pageUntil(page, (s) => s.moves.length > before.moves.length && s.mmr !== hostId, `the page moves off ${hostId} (${signal})`)
        expect(after.moves.at(-1), JSON.stringify(after.moves)).toMatchObject({ from: hostId, outcome: "ok", reason })
        // Bob's session followed as well; the two are together again, and the page hears him there.
        yield* poll(bob.finalReport, (r) => r.mmr === after.mmr, 100)
        expect((yield* bob.finalReport).mmr).toBe(after.mmr)
        const heard = fromBob(after)
        yield* pageUntil(page, (s) => fromBob(s) > heard + 10, `the page hears Bob again after ${signal}`)
        console.log(`browser: ${signal} of ${hostId} → moved to ${after.mmr} in ${after.moves.at(-1)!.ms} ms`)
        yield* host.exited.pipe(Effect.timeout("15 seconds"), Effect.orDie)
        yield* revive(d, hostId)
      }
      expect(yield* pageUntil(page, () => true, "")).toMatchObject({ phase: "joined" })
      // It leaves the MMR it is on now (the one it moved to), as a person clicking Leave would.
      const last = (yield* pageUntil(page, () => true, "")).mmr
      yield* Effect.promise(() => page.click("#leave"))
      yield* pageUntil(page, (s) => s.phase === "left", "the page left")
      const gone = yield* poll(Prometheus.scrape(d.process("mmr", last).metricsUrl), (t) => Prometheus.sum(t, "meetzone_mmr_participants", { mmr: last }) <= 1, 50)
      expect(Prometheus.sum(gone, "meetzone_mmr_participants", { mmr: last })).toBeLessThanOrEqual(1) // Bob, until his scope ends
    }),
    120_000,
  )

  it.scoped("SIGSTOP to the MMR hosting a meeting: its participants call it frozen, move together, and media flows again", () =>
    Effect.gen(function* () {
      const d = yield* Deployment
      const { meeting, sessions, startedAt, hostId, host } = yield* twoOnOneMmr(d, "sigstop", ["Ed", "Flo"])
      // The dashboard (the web process asking the MMR process) shows them, by name.
      const shown = yield* poll(opsState(d), (s) => s.body.meetings.find((m) => m.id === meeting)?.participants.length === 2, 100)
      const before = shown.body.meetings.find((m) => m.id === meeting)!
      expect({ mmr: before.mmr, answered: before.answered, names: before.participants.map((p) => p.name).sort() }).toEqual({ mmr: hostId, answered: true, names: ["Ed", "Flo"] })
      yield* Effect.sleep("500 millis")

      // Frozen, not dead: its connections stay open, nothing answers. Thawed when the test ends.
      const frozenAt = performance.now()
      host.child.kill("SIGSTOP")
      yield* Effect.addFinalizer(() => Effect.sync(() => void host.child.kill("SIGCONT")))
      // The dashboard does not wait on it: the meeting shows as not known, or already moved.
      const during = yield* opsState(d)
      const askedMs = performance.now() - frozenAt
      expect(during.status).toBe(200)
      expect(askedMs).toBeLessThan(2000)
      const placedOn = during.body.placements.find((p) => p.meeting === meeting)?.mmr
      const frozenView = during.body.meetings.find((m) => m.id === meeting)
      if (placedOn === hostId) expect(frozenView).toMatchObject({ answered: false, participants: [] })
      else expect(frozenView?.mmr ?? placedOn).not.toBe(hostId)
      const moved = yield* Effect.forEach(sessions, (s) => poll(s.finalReport, (r) => r.moves?.some((m) => m.outcome === "ok") === true, 100))
      const movedMs = moved.map((r, i) => Math.round(startedAt[i]! + r.moves![0]!.atMs + r.moves![0]!.ms - frozenAt))
      for (const r of moved) expect(r.moves?.[0], JSON.stringify(r.moves)).toMatchObject({ from: hostId, outcome: "ok", reason: "frozen" })
      expect(moved[1]!.mmr).toBe(moved[0]!.mmr)
      expect(moved[0]!.mmr).not.toBe(hostId)
      for (const s of sessions) {
        const base = yield* receivedBy(s)
        expect(yield* poll(receivedBy(s), (n) => n > base + 5, 100)).toBeGreaterThan(base + 5)
      }
      console.log(`SIGSTOP → moved after ${movedMs.join(", ")} ms`)
      // Frozen is called on evidence: unanswered questions, then reports gone stale at the controller (half its mmrTtl).
      for (const ms of movedMs) expect(ms).toBeLessThan(5000)

      // Thawed, it still believes it hosts the meeting: fencing makes it stop, within a round of reading the placement.
      const thawedAt = performance.now()
      host.child.kill("SIGCONT")
      const metrics = yield* poll(Prometheus.scrape(host.metricsUrl), (t) => Prometheus.sum(t, "meetzone_mmr_fenced_total", { mmr: hostId }) >= 1, 50)
      expect(Prometheus.sum(metrics, "meetzone_mmr_fenced_total", { mmr: hostId })).toBe(1)
      expect(Prometheus.sum(metrics, "meetzone_mmr_meetings", { mmr: hostId })).toBe(0)
      expect(Prometheus.sum(metrics, "meetzone_mmr_participants", { mmr: hostId })).toBe(0)
      console.log(`SIGCONT → stopped serving the moved meeting within ${Math.round(performance.now() - thawedAt)} ms`)
      // And takes nothing back: the meeting stays where it moved.
      expect((yield* opsState(d)).body.placements.find((p) => p.meeting === meeting)?.mmr).toBe(moved[0]!.mmr)
    }),
    60_000,
  )

  /** 500 joins, 48 at a time, each a whole join (lookup, its own NATS connection, probes, Assign, Join) that then leaves; `fault` strikes 5 s in. */
  const storm = (d: Distributed.Deployment, fault: (zone: string) => Effect.Effect<string, never, Scope.Scope>) =>
    Effect.gen(function* () {
      const { tls, newMeeting } = yield* webOf(d)
      const meetings = yield* Effect.forEach(Array.from({ length: 50 }), (_, i) => newMeeting(`storm ${i}`))
      const options = { web: d.web, tls, proxy: "none", reportToWeb: false, liveness: false } as const
      // The zone the joins land in: where the fault strikes.
      const first = yield* Client.join({ ...options, meeting: meetings[0]!, name: "first" }).pipe(Effect.provide(Connector.nats), Effect.scoped)
      const total = 500
      const startedAt = performance.now()
      const struck = yield* Effect.fork(Effect.zipRight(Effect.sleep("5 seconds"), fault(first.zone)))
      const outcomes = yield* Effect.forEach(
        Array.from({ length: total }, (_, i) => i),
        (i) =>
          Client.join({ ...options, meeting: meetings[i % meetings.length]!, name: `s${i}` }).pipe(
            Effect.provide(Connector.nats),
            Effect.map((s) => ({ ok: true as const, ms: s.report.totalMs, at: performance.now() - startedAt })),
            Effect.catchAll((e) =>
              Effect.succeed({
                ok: false as const,
                detail: `${e._tag}: ${e.message} ${JSON.stringify("report" in e ? e.report.phases.find((p) => p.name === "zone-selection")?.attempts.slice(0, 2) : undefined)}`,
                at: performance.now() - startedAt,
              }),
            ),
            Effect.scoped,
          ),
        { concurrency: 48 },
      )
      const what = yield* Fiber.join(struck)
      const elapsedMs = performance.now() - startedAt
      const failed = outcomes.filter((o) => !o.ok)
      const times = outcomes.flatMap((o) => (o.ok ? [o.ms] : []))
      const afterFault = outcomes.filter((o) => o.at > 5000).length
      console.log(
        `join storm, ${what} 5 s in: ${total} joins in ${(elapsedMs / 1000).toFixed(1)} s (${Math.round((total * 1000) / elapsedMs)}/s), ` +
          `${afterFault} ended after it; ${failed.length} failed; join time p50 ${Math.round(percentile(times, 50))} ms, p99 ${Math.round(percentile(times, 99))} ms`,
      )
      expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([])
      expect(afterFault, "joins went on after the fault").toBeGreaterThan(100)
    })

  it.scoped("a join storm (500 joins) while a zone controller is SIGKILLed: no join fails; p50/p99 join time reported", () =>
    Effect.gen(function* () {
      const d = yield* Deployment
      yield* storm(d, (zone) =>
        Effect.gen(function* () {
          const victim = d.processes.find((p) => p.actor.role === "controller" && p.actor.zone === zone)!
          victim.child.kill("SIGKILL")
          yield* Effect.addFinalizer(() =>
            Effect.zipRight(victim.exited.pipe(Effect.timeout("5 seconds"), Effect.ignore), d.restart("controller", `${zone}/${victim.actor.id}`).pipe(Effect.ignore)),
          )
          return `SIGKILL of ${victim.name}`
        }),
      )
    }),
    180_000,
  )
})
