/**
 * The last resorts on loopback: clients that cannot reach the control plane
 * (their connector fails, as behind a firewall that passes only HTTPS to the
 * tunnels) give up on zones after the deadline, then join through the first
 * tunnel to answer — or are sent to the web client when the tunnel fails too.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import WebSocket from "ws"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import { BusError } from "../../src/protocol/errors.js"
import { mediaKinds } from "../../src/protocol/media.js"
import * as Connector from "../../src/transports/connector.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as TestTopology from "../support/topology.js"

/** A client that reaches nothing of the control plane but the web tier and the tunnels. */
const cutOff = Layer.succeed(Connector.BusConnector, {
  connect: () => Effect.fail(new BusError({ operation: "connect", detail: "firewalled: only HTTPS to the web tier and the tunnels" })),
})
const quickGiveUp = { zoneSelection: { deadlineMs: 400 } }

const meetingAt = (web: string, tls: { ca: string }) =>
  Effect.flatMap(Lookup.dispatcher(tls, Option.none()), (http) =>
    Effect.map(Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 }), (m) => m.id),
  )

layer(serverWithClient, { excludeTestServices: true, timeout: "120 seconds" })("last resorts", (it) => {
  it.scoped("joins through the first tunnel to answer when no controller does, with media both ways", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls, topology } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "tun" }), [nats.url])
      expect(topology.tunnels).toHaveLength(2)
      const meeting = yield* meetingAt(web, tls)
      const media = { kinds: mediaKinds }
      const direct = yield* Client.join({ web, meeting, name: "Direct", tls, proxy: "none", media }).pipe(Effect.provide(Connector.nats))
      const tunneled = yield* Client.join({ web, meeting, name: "Tunneled", tls, proxy: "none", media, ...quickGiveUp }).pipe(
        Effect.provide(cutOff),
      )
      yield* Effect.sleep("800 millis")
      const d = yield* direct.finalReport
      const t = yield* tunneled.finalReport

      expect(t.path).toBe("tunnel")
      expect(t.phases.map((p) => [p.name, p.outcome])).toEqual([
        ["lookup", "ok"],
        ["zone-selection", "failed"],
        ["tunnel", "ok"],
        ["mmr-selection", "ok"],
        ["media", "ok"],
      ])
      const tunnelPhase = t.phases.find((p) => p.name === "tunnel")!
      expect(tunnelPhase.attempts.filter((a) => a.action === "ping")).toHaveLength(2) // both pinged at once
      expect(tunnelPhase.chosen).toMatch(/^tunnel-[12] /)
      expect(t.mmr).toBe(d.mmr) // the same meeting, the same MMR
      for (const m of t.media!) {
        expect(m.transport).toBe("tunnel")
        expect(m.receivedFrom["Direct"]).toBeGreaterThan(0)
      }
      for (const m of d.media!) expect(m.receivedFrom["Tunneled"]).toBeGreaterThan(0)
      const stats = topology.tunnels.map((x) => x.stats)
      expect(stats.reduce((n, s) => n + s.packetsUp, 0)).toBeGreaterThan(0)
      expect(stats.reduce((n, s) => n + s.packetsDown, 0)).toBeGreaterThan(0)
    }),
  )

  it.scoped("sends the client to the web client, with its URL and why each path failed, when the tunnels fail too", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      // The tunnels advertise an address nothing listens on.
      const { web, tls } = yield* TestTopology.start(
        TestTopology.twoZones({ prefix: "webc", tunnels: [{ id: "gone", publicUrl: "wss://127.0.0.1:1/tunnel" }] }),
        [nats.url],
      )
      const meeting = yield* meetingAt(web, tls)
      const outcome = yield* Effect.flip(
        Client.join({ web, meeting, tls, proxy: "none", ...quickGiveUp }).pipe(Effect.provide(cutOff)),
      )
      expect(outcome._tag).toBe("UseWebClient")
      if (outcome._tag !== "UseWebClient") return
      expect(outcome.url).toBe(`${web}/j/${meeting}`)
      expect(Object.keys(outcome.reasons)).toEqual(["direct", "tunnel"])
      expect(outcome.reasons["direct"]).toMatch(/no zone controller answered/)
      expect(outcome.report).toMatchObject({ path: "web-client", webClient: { url: outcome.url } })
      expect(outcome.report.phases.map((p) => [p.name, p.outcome])).toEqual([
        ["lookup", "ok"],
        ["zone-selection", "failed"],
        ["tunnel", "failed"],
        ["media", "skipped"],
      ])
    }),
  )

  it.scoped("relays nothing before a valid join token, and opens media only to a live MMR's port", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls, topology } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "gate" }), [nats.url])
      const meeting = yield* meetingAt(web, tls)
      const ws = yield* Effect.acquireRelease(
        Effect.async<WebSocket>((resume) => {
          const s = new WebSocket(topology.tunnels[0]!.url, { ca: tls.ca })
          s.once("open", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.sync(() => s.close()),
      )
      const answers: Array<Record<string, unknown>> = []
      ws.on("message", (d: Buffer, binary: boolean) => void (binary ? undefined : answers.push(JSON.parse(d.toString()))))
      const say = (m: object) => ws.send(JSON.stringify(m))
      const waitFor = (type: string, n = 1) =>
        Effect.gen(function* () {
          for (let i = 0; i < 200 && answers.filter((a) => a["type"] === type).length < n; i++) yield* Effect.sleep("10 millis")
          return answers.filter((a) => a["type"] === type).at(n - 1)
        })

      say({ type: "ping", id: 1 })
      expect(yield* waitFor("pong")).toMatchObject({ id: 1, tunnel: topology.tunnels[0]!.id })
      say({ type: "request", id: 2, subject: "gate.zone.eu-west.assign", data: "e30=", timeoutMs: 500 })
      expect(yield* waitFor("reply")).toMatchObject({ id: 2, error: { _tag: "Forbidden" } })
      say({ type: "hello", token: "forged" })
      expect(yield* waitFor("error")).toMatchObject({ type: "error" })
      say({ type: "nonsense" })
      expect(yield* waitFor("error", 2)).toMatchObject({ detail: expect.stringMatching(/bad message/) })

      const info = yield* Effect.flatMap(Lookup.dispatcher(tls, Option.none()), (http) =>
        Lookup.joinInfo(http, new URL(web), meeting, { timeoutMs: 5000 }),
      )
      say({ type: "hello", token: info.joinToken })
      expect(yield* waitFor("welcome")).toMatchObject({ meeting, participant: info.participant.id })
      say({ type: "media", channel: 0, host: "127.0.0.1", port: 22 })
      expect(yield* waitFor("media-refused")).toMatchObject({ channel: 0 })
      const mmr = topology.mmrs[0]!.handle.media!.endpoints
      say({ type: "media", channel: 1, host: mmr.host, port: mmr.port })
      expect(yield* waitFor("media-open")).toMatchObject({ channel: 1 })
      expect(topology.tunnels[0]!.stats).toMatchObject({ refused: 1, badMessages: 1 })
      // Fresh channel numbers (a move opens the new before it closes the old) — but no more than six at once,
      // and a number above the kinds' own needs its kind.
      say({ type: "media", channel: 7, host: mmr.host, port: mmr.port })
      expect(yield* waitFor("media-refused", 2)).toMatchObject({ channel: 7, detail: expect.stringMatching(/needs a kind/) })
      for (const channel of [2, 3, 4, 5, 6]) say({ type: "media", channel, kind: "video", host: mmr.host, port: mmr.port })
      expect(yield* waitFor("media-open", 6)).toMatchObject({ type: "media-open" })
      say({ type: "media", channel: 200, kind: "audio", host: mmr.host, port: mmr.port })
      expect(yield* waitFor("media-refused", 3)).toMatchObject({ channel: 200, detail: expect.stringMatching(/at most 6/) })
      say({ type: "close-media", channel: 6 })
      say({ type: "media", channel: 200, kind: "audio", host: mmr.host, port: mmr.port })
      expect(yield* waitFor("media-open", 7)).toMatchObject({ channel: 200 })
      expect(topology.tunnels[0]!.stats).toMatchObject({ refused: 2, badMessages: 1 })

      // Every request is held to the join token it said hello with: its own meeting and participant only.
      const request = (id: number, subject: string, body: object) =>
        say({ type: "request", id, subject, data: Buffer.from(JSON.stringify(body)).toString("base64"), timeoutMs: 1000 })
      const reply = (id: number) =>
        Effect.gen(function* () {
          for (let i = 0; i < 200 && !answers.some((a) => a["type"] === "reply" && a["id"] === id); i++) yield* Effect.sleep("10 millis")
          return answers.find((a) => a["type"] === "reply" && a["id"] === id)
        })
      const assign = topology.controllers[0]!
      request(10, `gate.zone.${assign.zone}.assign`, { _tag: "Assign", meeting: "9999999999", token: info.joinToken })
      expect(yield* reply(10)).toMatchObject({ error: { _tag: "Forbidden", detail: expect.stringMatching(/meeting 9999999999 is not this join's/) } })
      request(11, `gate.zone.${assign.zone}.assign`, { _tag: "Assign", meeting, token: "someone else's token" })
      expect(yield* reply(11)).toMatchObject({ error: { _tag: "Forbidden", detail: expect.stringMatching(/another join token/) } })
      request(12, "gate.mmr.eu-mmr-1", { _tag: "Leave", meeting, participant: "somebody-else", token: info.joinToken })
      expect(yield* reply(12)).toMatchObject({ error: { _tag: "Forbidden", detail: expect.stringMatching(/participant somebody-else is not this join's/) } })
      request(13, `gate.zone.${assign.zone}.assign`, { _tag: "Assign", meeting, token: info.joinToken })
      expect(yield* reply(13)).toMatchObject({ data: expect.any(String) })
    }),
  )
})
