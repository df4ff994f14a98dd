/**
 * The web tier against a client that floods it or lies to it: meeting
 * creation, join-info and passcode guesses are rate limited per client
 * address (429 with Retry-After, then they recover) and passcode guesses per
 * meeting too; a flood from one address leaves other addresses served; join
 * reports are taken only on a join's own token, once.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { fetch } from "undici"
import * as Lookup from "../../src/actors/client/lookup.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as TestTopology from "../support/topology.js"

// Slow refills where the test counts refusals (a busy machine cannot refill them mid-test); a quick one
// for join-info, whose recovery the test waits for (the limiter's timing itself is unit-tested).
const limits = {
  createMeeting: { perMinute: 6, burst: 3 },
  joinInfo: { perMinute: 600, burst: 5 },
  passcodeGuesses: { perMinute: 6, burst: 3 },
  passcodeGuessesPerMeeting: { perMinute: 6, burst: 3 },
}

layer(serverWithClient, { excludeTestServices: true, timeout: "60 seconds" })("the web tier under abuse", (it) => {
  it.scoped("limits join-info, meeting creation and wrong passcodes per address (and per meeting), then recovers", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(
        TestTopology.twoZones({ prefix: "abuse", web: [{ id: "web-1", port: 0, trustedProxies: ["loopback"], limits }] }),
        [nats.url],
      )
      const http = yield* Lookup.dispatcher(tls, Option.none())
      const get = (path: string, from: string, headers: Record<string, string> = {}) =>
        Effect.promise(() =>
          fetch(new URL(path, web), { dispatcher: http, headers: { "x-forwarded-for": from, ...headers } }).then(async (r) => ({
            status: r.status,
            retryAfter: r.headers.get("retry-after"),
            body: (await r.json()) as { error?: { code: string } },
          })),
        )
      const post = (path: string, from: string, body: object) =>
        Effect.promise(() =>
          fetch(new URL(path, web), { method: "POST", dispatcher: http, headers: { "x-forwarded-for": from, "content-type": "application/json" }, body: JSON.stringify(body) }).then(
            async (r) => ({ status: r.status, retryAfter: r.headers.get("retry-after"), body: (await r.json()) as { id?: string } }),
          ),
        )

      // Meeting creation: 3 at once from one address, then 429.
      const created = yield* Effect.forEach([1, 2, 3, 4], () => post("/api/meetings", "203.0.113.7", { topic: "flood" }))
      expect(created.map((r) => r.status)).toEqual([201, 201, 201, 429])
      expect(Number(created[3]!.retryAfter)).toBeGreaterThanOrEqual(1)
      const meeting = created[0]!.body.id!
      const locked = (yield* post("/api/meetings", "198.51.100.1", { topic: "locked", passcode: "4711" })).body.id!

      // A flood of join-info from one address: refused past its burst; another address is still served.
      const floodStarted = performance.now()
      const flood = yield* Effect.forEach(Array.from({ length: 30 }), () => get(`/api/meetings/${meeting}/join-info`, "203.0.113.7"), { concurrency: 10 })
      // The burst of 5, and what refilled while the flood lasted (one per 100 ms at 600 a minute).
      const refilled = Math.floor((performance.now() - floodStarted) / 100)
      const served = flood.filter((r) => r.status === 200).length
      expect(served).toBeGreaterThanOrEqual(5)
      expect(served).toBeLessThanOrEqual(5 + refilled + 1)
      expect(flood.filter((r) => r.status === 429).length).toBe(30 - served)
      expect(flood.find((r) => r.status === 429)).toMatchObject({ body: { error: { code: "TooManyRequests" } } })
      expect((yield* get(`/api/meetings/${meeting}/join-info`, "198.51.100.2")).status).toBe(200)

      // Passcode guesses: per address, and per meeting across addresses.
      const guesses = yield* Effect.forEach([1, 2, 3, 4], (i) => get(`/api/meetings/${locked}/join-info?passcode=000${i}`, "192.0.2.1"))
      expect(guesses.map((r) => r.status)).toEqual([403, 403, 403, 429])
      const elsewhere = yield* get(`/api/meetings/${locked}/join-info?passcode=4711`, "192.0.2.99")
      expect(elsewhere.status).toBe(429) // the meeting's own budget is spent too, whatever the address
      expect(Number(elsewhere.retryAfter)).toBeGreaterThanOrEqual(1)
      // Recovery: join-info gets one more every 100 ms.
      yield* Effect.sleep("300 millis")
      expect((yield* get(`/api/meetings/${meeting}/join-info`, "203.0.113.7")).status).toBe(200)
    }),
  )

  it.scoped("takes a join report only with that join's token, once, and only known outcomes", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls, topology } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "reports" }), [nats.url])
      const http = yield* Lookup.dispatcher(tls, Option.none())
      const a = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
      const b = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
      const info = yield* Lookup.joinInfo(http, new URL(web), a, { timeoutMs: 5000 })
      const other = yield* Lookup.joinInfo(http, new URL(web), b, { timeoutMs: 5000 })
      const summary = { meeting: a, participant: info.participant.id, path: "direct", outcome: "ok", totalMs: 12, phases: [] }
      const send = (body: object, token?: string) =>
        Effect.promise(() =>
          fetch(new URL("/api/joins", web), {
            method: "POST",
            dispatcher: http,
            headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
            body: JSON.stringify(body),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> })),
        )
      expect((yield* send(summary)).status).toBe(401)
      expect((yield* send(summary, "forged")).status).toBe(401)
      expect((yield* send(summary, other.joinToken)).status).toBe(403) // another join's token
      expect((yield* send({ ...summary, outcome: "EvilLabel" }, info.joinToken)).status).toBe(400)
      expect(yield* send(summary, info.joinToken)).toMatchObject({ status: 202, body: { counted: true } })
      expect(yield* send(summary, info.joinToken)).toMatchObject({ status: 202, body: { counted: false } })
      expect(topology.web[0]!.joins.recent()).toHaveLength(1)
    }),
  )
})
