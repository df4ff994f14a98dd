/**
 * The media plane with real sockets: clients join through the whole
 * connection process over a real nats-server (or, when NATS is out of reach,
 * the relay; behind a real tinyproxy, TLS everywhere) and exchange synthetic
 * media through an MMR.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { JoinOptions, JoinSession } from "../../src/actors/client/Client.js"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import type { MediaKindReport } from "../../src/protocol/join-report.js"
import type { MediaTransport } from "../../src/protocol/media.js"
import { mediaKinds } from "../../src/protocol/media.js"
import * as Connector from "../../src/transports/connector.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as Tinyproxy from "../support/tinyproxy.js"
import * as TestTopology from "../support/topology.js"

const allKinds = { kinds: mediaKinds }

const newMeeting = (web: string, tls: { ca: string }) =>
  Effect.flatMap(Lookup.dispatcher(tls, Option.none()), (http) =>
    Effect.map(Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 }), (m) => m.id),
  )

/** Every kind of every session received packets from every other participant. */
const expectFullMesh = (reports: ReadonlyArray<{ name: string; media: ReadonlyArray<MediaKindReport> }>) => {
  for (const { name, media } of reports) {
    expect(media.map((m) => m.kind).sort()).toEqual([...mediaKinds].sort())
    for (const m of media) {
      const others = reports.filter((r) => r.name !== name).map((r) => r.name).sort()
      expect(Object.keys(m.receivedFrom).sort(), `${name} ${m.kind} heard from`).toEqual(others)
      for (const other of others) expect(m.receivedFrom[other], `${name} ${m.kind} from ${other}`).toBeGreaterThan(0)
      expect(m.status).toBe("open")
    }
  }
}

const joinAll = (web: string, tls: { ca: string }, meeting: string, people: ReadonlyArray<[string, Partial<JoinOptions> & { transports?: ReadonlyArray<MediaTransport> }]>) =>
  Effect.forEach(people, ([name, extra]) =>
    Client.join({
      web,
      meeting,
      name,
      tls,
      proxy: "none",
      ...extra,
      media: { ...allKinds, ...(extra.transports !== undefined ? { transports: extra.transports } : {}), ...extra.media },
    }).pipe(Effect.map((session) => [name, session] as const)),
  )

/** The reports once every kind of every session heard from every other (or after 8 s on a loaded machine, as they are). */
const settle = (sessions: ReadonlyArray<readonly [string, JoinSession]>) =>
  Effect.gen(function* () {
    const reports = Effect.forEach(sessions, ([name, s]) => Effect.map(s.finalReport, (r) => ({ name, media: r.media ?? [], report: r })))
    yield* Effect.sleep("800 millis")
    for (let i = 0; i < 36; i++) {
      const now = yield* reports
      const meshed = now.every(({ name, media }) =>
        media.every((m) => sessions.every(([other]) => other === name || (m.receivedFrom[other] ?? 0) > 0)),
      )
      if (meshed) break
      yield* Effect.sleep("200 millis")
    }
    return yield* reports
  })

layer(serverWithClient, { excludeTestServices: true, timeout: "120 seconds" })("media plane", (it) => {
  it.scoped("two clients each receive the other's audio, video and content over UDP, DSCP-marked", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "m2" }), [nats.url])
      const meeting = yield* newMeeting(web, tls)
      const sessions = yield* joinAll(web, tls, meeting, [["Ada", {}], ["Grace", {}]])
      const reports = yield* settle(sessions)
      expectFullMesh(reports)
      for (const { media, report } of reports) {
        expect(report.phases.map((p) => p.name)).toEqual(["lookup", "zone-selection", "mmr-selection", "media"])
        for (const m of media) {
          expect(m.transport).toBe("udp")
          expect(m.dscp).toBe({ audio: 46, video: 34, content: 26 }[m.kind])
          expect(m.marked).toBe(true)
          expect(m.loss).toBe(0)
        }
      }
    }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("five clients on UDP, TCP and TLS, mixed, each receive every other client's packets on every kind", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "m5" }), [nats.url])
      const meeting = yield* newMeeting(web, tls)
      const sessions = yield* joinAll(web, tls, meeting, [
        ["udp-1", { transports: ["udp"] }],
        ["tcp-1", { transports: ["tcp"] }],
        ["tls-1", { transports: ["tls"] }],
        ["udp-2", { transports: ["udp"] }],
        ["tcp-tls", { transports: ["tcp", "tls"], media: { ...allKinds, strategy: "sequential" } }],
      ])
      const reports = yield* settle(sessions)
      expectFullMesh(reports)
      const transportOf = Object.fromEntries(reports.map((r) => [r.name, r.media[0]!.transport]))
      expect(transportOf).toEqual({ "udp-1": "udp", "tcp-1": "tcp", "tls-1": "tls", "udp-2": "udp", "tcp-tls": "tcp" })
    }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("reaches the control plane through the relay when NATS is out of reach", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      // Clients are told a NATS address nothing listens on: only the web tier's TLS answers.
      const { web, tls } = yield* TestTopology.start(
        TestTopology.twoZones({ prefix: "relay", nats: { clientUrls: ["nats://127.0.0.1:1"] } }),
        [nats.url],
      )
      const meeting = yield* newMeeting(web, tls)
      const sessions = yield* joinAll(web, tls, meeting, [["Ada", {}], ["Grace", {}]])
      const reports = yield* settle(sessions)
      expectFullMesh(reports)
      const selection = reports[0]!.report.phases.find((p) => p.name === "zone-selection")!
      expect(selection.attempts.some((a) => a.action === "control via relay")).toBe(true)
      expect(reports[1]!.report.mmr).toBe(reports[0]!.report.mmr)
    }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("behind an HTTP proxy (tinyproxy, with auth) goes straight to TLS: lookup, control and every media kind", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const proxy = yield* Tinyproxy.start({ user: "alice", password: "s3cret" })
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "px" }), [nats.url])
      const meeting = yield* newMeeting(web, tls)
      const behindProxy: Partial<JoinOptions> = { env: { HTTPS_PROXY: `http://alice:s3cret@127.0.0.1:${proxy.port}` } }
      const sessions = yield* Effect.forEach(["Ada", "Grace"], (name) =>
        Effect.map(Client.join({ web, meeting, name, tls, ...behindProxy, media: allKinds }), (s) => [name, s] as const),
      )
      const reports = yield* settle(sessions)
      expectFullMesh(reports)
      for (const { report, media } of reports) {
        expect(report.path).toBe("proxy")
        expect(report.proxy).toBe(proxy.url)
        for (const m of media) expect(m.transport).toBe("tls")
        const dials = report.phases.find((p) => p.name === "media")!.attempts
        expect(dials.every((a) => a.target.endsWith("/tls") && a.action.endsWith("via proxy"))).toBe(true)
      }
      // The proxy really carried it all: the lookup, the relay, and the MMR's TLS port.
      const connects = proxy.log().filter((l) => l.includes("CONNECT 127.0.0.1:"))
      expect(connects.length).toBeGreaterThanOrEqual(2 * (1 + 1 + 3))
    }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("refuses a proxy that wants credentials when given none, as a typed join error", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const proxy = yield* Tinyproxy.start({ user: "alice", password: "s3cret" })
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "px2" }), [nats.url])
      const meeting = yield* newMeeting(web, tls)
      const failed = yield* Effect.flip(Client.join({ web, meeting, tls, env: { HTTPS_PROXY: proxy.url } }))
      expect(failed._tag).toBe("LookupFailed")
      expect(failed.report.proxy).toBe(proxy.url)
    }).pipe(Effect.provide(Connector.nats)),
  )
})
