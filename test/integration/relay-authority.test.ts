/**
 * The web tier's relay, as a hostile client meets it: no connection without
 * a valid join token, and every request it relays held to that token — its
 * own meeting, its own participant, its own token — with the refusals
 * counted for operators.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import WebSocket from "ws"
import * as Lookup from "../../src/actors/client/lookup.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as TestTopology from "../support/topology.js"

/** Opens the relay with `headers`; the HTTP status when it is refused. */
const open = (url: string, ca: string, headers: Record<string, string>) =>
  Effect.async<{ readonly ws: WebSocket } | { readonly status: number }>((resume) => {
    const ws = new WebSocket(url, { ca, headers })
    ws.once("open", () => resume(Effect.succeed({ ws })))
    ws.once("unexpected-response", (_req, res) => {
      resume(Effect.succeed({ status: res.statusCode ?? 0 }))
      ws.terminate()
    })
    ws.once("error", () => {})
    return Effect.sync(() => ws.terminate())
  })

layer(serverWithClient, { excludeTestServices: true, timeout: "60 seconds" })("the relay", (it) => {
  it.scoped("takes no connection without a valid join token, and relays only what the token allows", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls, topology } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "auth" }), [nats.url])
      const http = yield* Lookup.dispatcher(tls, Option.none())
      const meetingA = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
      const meetingB = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
      const ada = yield* Lookup.joinInfo(http, new URL(web), meetingA, { name: "Ada", timeoutMs: 5000 })
      const eve = yield* Lookup.joinInfo(http, new URL(web), meetingB, { name: "Eve", timeoutMs: 5000 })
      const relay = ada.relay

      expect(yield* open(relay, tls.ca, {})).toEqual({ status: 401 })
      expect(yield* open(relay, tls.ca, { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.e30.forged" })).toEqual({ status: 401 })
      expect(topology.web[0]!.relayRefused()).toBe(2)

      // Eve holds a valid token — for meeting B. Through the relay she can act only as herself, in B.
      const opened = yield* open(relay, tls.ca, { authorization: `Bearer ${eve.joinToken}` })
      if (!("ws" in opened)) return expect.fail(`relay refused a valid token: ${opened.status}`)
      // Left open on purpose: the web lookup must end relay sessions itself when it stops.
      const ws = opened.ws
      const answers = new Map<number, Record<string, unknown>>()
      ws.on("message", (d: Buffer) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>
        answers.set(m["id"] as number, m)
      })
      const ask = (id: number, subject: string, body: object) =>
        Effect.gen(function* () {
          ws.send(JSON.stringify({ id, subject, data: Buffer.from(JSON.stringify(body)).toString("base64"), timeoutMs: 1000 }))
          for (let i = 0; i < 200 && !answers.has(id); i++) yield* Effect.sleep("10 millis")
          return answers.get(id)
        })
      const zone = ada.zones[0]!
      const forbidden = { error: { _tag: "Forbidden" } }
      // Ada's meeting, with Eve's token or with Ada's copied token; Ada's participant; Drain.
      expect(yield* ask(1, zone.assignSubject, { _tag: "Assign", meeting: meetingA, token: eve.joinToken })).toMatchObject(forbidden)
      expect(yield* ask(2, zone.assignSubject, { _tag: "Assign", meeting: meetingA, token: ada.joinToken })).toMatchObject(forbidden)
      expect(yield* ask(3, "auth.mmr.eu-mmr-1", { _tag: "Roster", meeting: meetingA, token: eve.joinToken })).toMatchObject(forbidden)
      expect(yield* ask(4, "auth.mmr.eu-mmr-1", { _tag: "Leave", meeting: meetingB, participant: ada.participant.id, token: eve.joinToken })).toMatchObject(forbidden)
      expect(yield* ask(5, "auth.mmr.eu-mmr-1.admin", { _tag: "Drain", draining: true })).toMatchObject(forbidden)
      expect(topology.mmrs.every((m) => !m.handle.isDraining())).toBe(true)
      // Her own meeting: relayed, and answered by the zone's controllers.
      const own = yield* ask(6, zone.assignSubject, { _tag: "Assign", meeting: meetingB, token: eve.joinToken })
      expect(own).toMatchObject({ data: expect.any(String) })
      expect(JSON.parse(Buffer.from(own!["data"] as string, "base64").toString())).toMatchObject({ ok: { meeting: meetingB } })
    }),
  )
})
