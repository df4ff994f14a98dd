/**
 * The NATS bus's own request/reply (transports/nats/requests.ts) against a
 * real nats-server: many requests of different timeouts in flight at once,
 * each answered or timed out at its own deadline, never both; an asker that
 * gives up is forgotten at once and its late answer goes nowhere; a
 * responder who saw one reply subject cannot answer another request; nobody
 * listening is NoResponders, not a timeout.
 */
import { describe, expect, layer } from "@effect/vitest"
import { connect } from "@nats-io/transport-node"
import { Effect, Fiber } from "effect"
import * as Requests from "../../src/transports/nats/requests.js"
import { TestNats, server } from "../support/nats.js"

const connection = Effect.flatMap(TestNats, (s) =>
  Effect.acquireRelease(
    Effect.promise(() => connect({ servers: s.url, noAsyncTraces: true })),
    (nc) => Effect.promise(() => nc.close()),
  ),
)

const ask = (r: Requests.Requester, subject: string, n: number, timeoutMs: number) =>
  Effect.async<{ outcome: Requests.Outcome["_tag"]; ms: number; n: number }>((resume) => {
    const started = performance.now()
    const cancel = r.request(subject, new TextEncoder().encode(String(n)), timeoutMs, undefined, (o) =>
      resume(Effect.succeed({ outcome: o._tag, ms: performance.now() - started, n })),
    )
    return Effect.sync(cancel)
  })

layer(server, { excludeTestServices: true, timeout: "30 seconds" })("NATS requests", (it) => {
  describe("one inbox per connection", () => {
    it.scoped("answers or times out each of 300 requests at its own deadline, never both", () =>
      Effect.gen(function* () {
        const responder = yield* connection
        // Answers even numbers at once, never the odd ones.
        responder.subscribe("req.mixed", { callback: (_, m) => void (Number(new TextDecoder().decode(m.data)) % 2 === 0 && m.respond(m.data)) })
        yield* Effect.promise(() => responder.flush())
        const nc = yield* connection
        const r = Requests.requester(nc)
        // Those never answered time out after 50, 150 or 300 ms; the answered ones have seconds (a loaded machine is slow to answer the first).
        const timeouts = [50, 150, 300]
        const timeoutOf = (n: number) => (n % 2 === 0 ? 2000 + timeouts[n % 3]! : timeouts[n % 3]!)
        const results = yield* Effect.forEach(Array.from({ length: 300 }, (_, n) => n), (n) => ask(r, "req.mixed", n, timeoutOf(n)), { concurrency: "unbounded" })
        for (const x of results) {
          if (x.n % 2 === 0) expect(x.outcome, `request ${x.n}`).toBe("Reply")
          else {
            expect(x.outcome, `request ${x.n}`).toBe("Timeout")
            const timeout = timeouts[x.n % 3]!
            expect(x.ms, `request ${x.n} timed out after its ${timeout} ms`).toBeGreaterThanOrEqual(timeout - 1)
            expect(x.ms).toBeLessThan(timeout + 250)
          }
        }
        expect(r.outstanding()).toBe(0)
      }),
    )

    it.scoped("forgets an asker that gives up, at once; its late answer goes nowhere", () =>
      Effect.gen(function* () {
        const responder = yield* connection
        responder.subscribe("req.slow", { callback: (_, m) => void setTimeout(() => m.respond(m.data), 200) })
        yield* Effect.promise(() => responder.flush())
        const nc = yield* connection
        const r = Requests.requester(nc)
        const fiber = yield* Effect.fork(ask(r, "req.slow", 1, 5000))
        yield* Effect.sleep("50 millis")
        expect(r.outstanding()).toBe(1)
        yield* Fiber.interrupt(fiber)
        expect(r.outstanding()).toBe(0)
        // The answer arrives after the asker left: dropped; the next request on the same inbox is unaffected.
        yield* Effect.sleep("250 millis")
        const next = yield* ask(r, "req.slow", 2, 5000)
        expect(next.outcome).toBe("Reply")
        expect(r.outstanding()).toBe(0)
      }),
    )

    it.scoped("a responder who saw one request's reply subject cannot answer the next one (tokens are unguessable)", () =>
      Effect.gen(function* () {
        const hostile = yield* connection
        let seen = ""
        hostile.subscribe("req.once", { callback: (_, m) => void ((seen = m.reply ?? ""), m.respond(m.data)) })
        yield* Effect.promise(() => hostile.flush())
        const nc = yield* connection
        const r = Requests.requester(nc)
        expect((yield* ask(r, "req.once", 1, 2000)).outcome).toBe("Reply")
        // The next request goes to a subject nobody answers; the hostile side replies to every subject it can derive from the one it saw.
        const quiet = yield* connection
        quiet.subscribe("req.silent", { callback: () => {} })
        yield* Effect.promise(() => quiet.flush())
        const next = yield* Effect.fork(ask(r, "req.silent", 2, 400))
        yield* Effect.sleep("50 millis")
        const inbox = seen.slice(0, seen.lastIndexOf(".") + 1)
        const token = seen.slice(inbox.length)
        const suffix = token.slice(1)
        const guesses = [seen, ...Array.from({ length: 64 }, (_, i) => `${inbox}${i.toString(36)}${suffix}`), `${inbox}1`, `${inbox}2`]
        for (const g of guesses) hostile.publish(g, new TextEncoder().encode("forged"))
        yield* Effect.promise(() => hostile.flush())
        expect((yield* Fiber.join(next)).outcome).toBe("Timeout")
        expect(r.outstanding()).toBe(0)
      }),
    )

    it.scoped("fails every waiting asker when its connection closes, without waiting for their timeouts", () =>
      Effect.gen(function* () {
        const quiet = yield* connection
        quiet.subscribe("req.never", { callback: () => {} })
        yield* Effect.promise(() => quiet.flush())
        const nc = yield* Effect.flatMap(TestNats, (s) => Effect.promise(() => connect({ servers: s.url, noAsyncTraces: true })))
        const r = Requests.requester(nc)
        const waiting = yield* Effect.fork(Effect.all([ask(r, "req.never", 1, 10_000), ask(r, "req.never", 2, 10_000)], { concurrency: 2 }))
        yield* Effect.sleep("50 millis")
        expect(r.outstanding()).toBe(2)
        yield* Effect.promise(() => nc.close())
        const results = yield* Fiber.join(waiting)
        expect(results.map((x) => x.outcome)).toEqual(["Failed", "Failed"])
        for (const x of results) expect(x.ms).toBeLessThan(2000)
        expect(r.outstanding()).toBe(0)
      }),
    )

    it.scoped("says NoResponders when nobody listens, well before the timeout", () =>
      Effect.gen(function* () {
        const r = Requests.requester(yield* connection)
        const x = yield* ask(r, "req.nobody", 1, 5000)
        expect(x.outcome).toBe("NoResponders")
        expect(x.ms).toBeLessThan(1000)
      }),
    )
  })
})
