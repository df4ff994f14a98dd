/**
 * The actor kernel's behaviour, run unchanged on the NATS bus and the
 * in-process bus.
 */
import { expect, layer } from "@effect/vitest"
import type { Layer } from "effect"
import { Effect, Either, Exit, Fiber, Schedule, Schema, Scope, Stream } from "effect"
import { json } from "../../../src/protocol/codec.js"
import { decodeEnvelope } from "../../../src/protocol/envelope.js"
import * as RequestFrame from "../../../src/protocol/request-frame.js"
import { ask, tell } from "../../../src/runtime/Ask.js"
import { ControlBus } from "../../../src/runtime/ControlBus.js"
import { withCorrelationId } from "../../../src/runtime/Correlation.js"
import * as Topic from "../../../src/runtime/Topic.js"
import type { Lifecycle } from "../echo-actor.js"
import { Crash, Divide, Echo, Record, Recorded, Sleep, WhoAsks, startEcho } from "../echo-actor.js"
import { uniqueSubject } from "./control-bus.js"

const text = new TextEncoder()

/** A request the echo actor does not know: what an asker with a newer protocol would send. */
class Unknown extends Schema.TaggedRequest<Unknown>()("Unknown", {
  payload: {},
  success: Schema.Void,
  failure: Schema.Never,
}) {}

export const actorKernelContract = <E>(name: string, busLayer: Layer.Layer<ControlBus, E>) =>
  layer(busLayer, { excludeTestServices: true, timeout: "60 seconds" })(`actor kernel: ${name}`, (it) => {
    it.scoped("answers ask with the behaviour's typed success, keeping state between messages", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("echo")
        yield* startEcho(subject)
        const first = yield* ask(subject, new Echo({ text: "hi" }))
        const second = yield* ask(subject, new Echo({ text: "again" }))
        expect(first).toEqual({ text: "hi", served: 1 })
        expect(second).toEqual({ text: "again", served: 2 })
      }),
    )

    it.scoped("returns a declared failure as itself, typed", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("divide")
        yield* startEcho(subject)
        expect(yield* ask(subject, new Divide({ a: 6, b: 3 }))).toBe(2)
        const failed = yield* ask(subject, new Divide({ a: 6, b: 0 })).pipe(
          Effect.catchTag("DivisionByZero", (e) => Effect.succeed(`caught ${e.dividend}`)),
        )
        expect(failed).toBe("caught 6")
      }),
    )

    it.scoped("answers malformed bytes with a DecodeError naming the problem, and keeps serving", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("malformed")
        const actor = yield* startEcho(subject)

        const garbage = yield* bus.request(subject, text.encode("{not json"), { timeoutMs: 2000 })
        const envelope = decodeEnvelope(json, garbage.data)
        expect(envelope?.kind).toBe("error")
        expect(envelope?.value).toMatchObject({ _tag: "DecodeError", side: "request", subject })

        const wrongField = yield* bus.request(subject, text.encode(JSON.stringify({ _tag: "Divide", a: 1, b: "two" })), {
          timeoutMs: 2000,
        })
        const issue = (decodeEnvelope(json, wrongField.data)?.value as { issue: string }).issue
        expect(issue).toContain("b")
        expect(issue).toContain("Expected number")

        expect(yield* ask(subject, new Echo({ text: "still here" }))).toEqual({ text: "still here", served: 1 })
        const stats = yield* actor.stats
        expect(stats.decodeErrors).toBe(2)
      }),
    )

    it.scoped("surfaces the actor's DecodeError to a typed asker the actor cannot understand", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("skew")
        yield* startEcho(subject)
        const result = yield* Effect.either(ask(subject, new Unknown()))
        expect(Either.isLeft(result) && result.left._tag).toBe("DecodeError")
        if (Either.isLeft(result) && result.left._tag === "DecodeError") expect(result.left.side).toBe("request")
      }),
    )

    it.scoped("restarts after a defect with fresh state, answers RemoteError, and serves the next message", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("crash")
        const lifecycle: Lifecycle = { built: 0, released: 0 }
        const actor = yield* startEcho(subject, {}, lifecycle)
        yield* ask(subject, new Echo({ text: "a" }))
        yield* ask(subject, new Echo({ text: "b" }))

        for (const how of ["throw", "die"] as const) {
          const crashed = yield* Effect.either(ask(subject, new Crash({ how })))
          expect(Either.isLeft(crashed) && crashed.left._tag).toBe("RemoteError")
          if (Either.isLeft(crashed) && crashed.left._tag === "RemoteError") {
            expect(crashed.left.reason).toBe("defect")
            expect(crashed.left.detail).toContain(how === "throw" ? "behaviour threw" : "behaviour died")
          }
          // The next message is served by a fresh incarnation: its counter starts again.
          expect(yield* ask(subject, new Echo({ text: "after" }))).toEqual({ text: "after", served: 1 })
        }
        const stats = yield* actor.stats
        expect(stats.defects).toBe(2)
        expect(stats.restarts).toBe(2)
        expect(lifecycle).toEqual({ built: 3, released: 2 })
      }),
    )

    it.scoped("serves its mailbox strictly in the order messages arrived", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("order")
        yield* startEcho(subject)
        for (let n = 0; n < 200; n++) yield* tell(subject, new Record({ n }))
        yield* Effect.flatMap(ControlBus, (bus) => bus.flush)
        const recorded = yield* ask(subject, new Recorded())
        expect(recorded).toEqual(Array.from({ length: 200 }, (_, n) => n))
      }),
    )

    it.scoped("refuses work beyond its mailbox with RemoteError overloaded, and counts it", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("overload")
        const actor = yield* startEcho(subject, { mailboxCapacity: 2 })
        const results = yield* Effect.forEach(
          Array.from({ length: 8 }),
          () => Effect.either(ask(subject, new Sleep({ ms: 30 }), { timeout: "5 seconds" })),
          { concurrency: "unbounded" },
        )
        const overloaded = results.filter(
          (r) => Either.isLeft(r) && r.left._tag === "RemoteError" && r.left.reason === "overloaded",
        )
        const served = results.filter(Either.isRight)
        expect(overloaded.length).toBeGreaterThan(0)
        expect(served.length).toBeGreaterThan(0)
        expect(overloaded.length + served.length).toBe(8)
        expect((yield* actor.stats).overloaded).toBe(overloaded.length)
      }),
    )

    it.scoped("stops gracefully: serves what its mailbox holds, then nobody is listening", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("drain")
        const lifecycle: Lifecycle = { built: 0, released: 0 }
        const actorScope = yield* Scope.make()
        yield* startEcho(subject, {}, lifecycle).pipe(Scope.extend(actorScope))
        const pending = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 5 }), () => ask(subject, new Sleep({ ms: 20 })), {
            concurrency: "unbounded",
          }),
        )
        yield* Effect.sleep("30 millis") // all five are in the mailbox
        yield* Scope.close(actorScope, Exit.void)
        const served = yield* Fiber.join(pending)
        expect(served).toHaveLength(5)
        expect(lifecycle.released).toBe(1)
        const after = yield* Effect.either(ask(subject, new Echo({ text: "late" })))
        expect(Either.isLeft(after) && after.left._tag).toBe("NoResponders")
      }),
    )

    it.scoped("times out with RequestTimeout, and drops the message unserved once its asker gave up", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("timeout")
        const actor = yield* startEcho(subject)
        const busy = yield* Effect.fork(ask(subject, new Sleep({ ms: 300 })))
        yield* Effect.sleep("30 millis") // the Sleep is in the mailbox before the Echo
        const late = yield* Effect.either(ask(subject, new Echo({ text: "late" }), { timeout: "50 millis" }))
        expect(Either.isLeft(late) && late.left._tag).toBe("RequestTimeout")
        yield* Fiber.join(busy)
        expect(yield* ask(subject, new Echo({ text: "next" }))).toEqual({ text: "next", served: 1 })
        expect((yield* actor.stats).expired).toBe(1)
      }),
    )

    it.scoped("retries transient failures on a schedule: an actor that starts late is still reached", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("late-start")
        const asking = yield* Effect.fork(
          ask(subject, new Echo({ text: "eventually" }), {
            timeout: "500 millis",
            retry: Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(100))),
          }),
        )
        yield* Effect.sleep("100 millis")
        yield* startEcho(subject)
        expect(yield* Fiber.join(asking)).toEqual({ text: "eventually", served: 1 })
      }),
    )

    it.scoped("does not retry a declared failure", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("no-retry")
        const actor = yield* startEcho(subject)
        const result = yield* Effect.either(
          ask(subject, new Divide({ a: 1, b: 0 }), { retry: Schedule.recurs(5) }),
        )
        expect(Either.isLeft(result) && result.left._tag).toBe("DivisionByZero")
        expect((yield* actor.stats).failed).toBe(1)
      }),
    )

    it.scoped("carries the asker's correlation id to the behaviour", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("correlation")
        yield* startEcho(subject)
        expect(yield* ask(subject, new WhoAsks())).toBeNull()
        expect(yield* withCorrelationId("join-42")(ask(subject, new WhoAsks()))).toBe("join-42")
      }),
    )

    it.scoped("serves a raw client's bare JSON with Mz-Timeout and Mz-Correlation headers; answers a malformed frame with a DecodeError", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("raw")
        const actor = yield* startEcho(subject)
        const raw = yield* bus.request(subject, text.encode(JSON.stringify({ _tag: "WhoAsks" })), {
          timeoutMs: 2000,
          headers: { "Mz-Timeout": "2000", "Mz-Correlation": "raw-7" },
        })
        expect(decodeEnvelope(json, raw.data)).toEqual({ kind: "ok", value: "raw-7" })
        const cut = yield* bus.request(subject, Uint8Array.of(RequestFrame.VERSION, 0, 0), { timeoutMs: 2000 })
        expect(decodeEnvelope(json, cut.data)?.value).toMatchObject({ _tag: "DecodeError", side: "request", issue: expect.stringContaining("request frame") })
        const overlong = yield* bus.request(subject, Uint8Array.of(RequestFrame.VERSION, 0, 0, 0, 0, 200, 0x7b), { timeoutMs: 2000 })
        expect(decodeEnvelope(json, overlong.data)?.kind).toBe("error")
        expect((yield* actor.stats).decodeErrors).toBe(2)
        // And it goes on serving typed askers.
        expect(yield* ask(subject, new WhoAsks())).toBeNull()
      }),
    )

    it.scoped("shares work between actors in one queue group", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("group")
        const a = yield* startEcho(subject, { name: "a", listen: [{ subject, queue: "g" }] })
        const b = yield* startEcho(subject, { name: "b", listen: [{ subject, queue: "g" }] })
        yield* Effect.forEach(Array.from({ length: 40 }), () => ask(subject, new Echo({ text: "x" })), {
          concurrency: 8,
        })
        const served = [(yield* a.stats).succeeded, (yield* b.stats).succeeded]
        expect(served[0]! + served[1]!).toBe(40)
        expect(Math.min(...served)).toBeGreaterThan(0)
      }),
    )

    it.scoped("runs several messages at once when given concurrency", () =>
      Effect.gen(function* () {
        const subject = uniqueSubject("concurrent")
        yield* startEcho(subject, { concurrency: 4 })
        const started = Date.now()
        yield* Effect.forEach(Array.from({ length: 4 }), () => ask(subject, new Sleep({ ms: 200 })), {
          concurrency: "unbounded",
        })
        // In order, four 200 ms sleeps take 800 ms; at once, about 200.
        expect(Date.now() - started).toBeLessThan(700)
      }),
    )

    it.scoped("streams typed messages on a topic, dropping and counting the undecodable", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("topic")
        const Load = Schema.Struct({ mmr: Schema.String, participants: Schema.Int })
        const subscription = yield* Topic.subscribe(subject, Load)
        yield* Topic.publish(subject, Load, { mmr: "m1", participants: 3 })
        yield* bus.publish(subject, text.encode(JSON.stringify({ mmr: "m2", participants: "many" })))
        yield* bus.publish(subject, text.encode("garbage"))
        yield* Topic.publish(subject, Load, { mmr: "m3", participants: 0 })
        const got = yield* subscription.messages.pipe(Stream.take(2), Stream.runCollect)
        expect([...got]).toEqual([
          { mmr: "m1", participants: 3 },
          { mmr: "m3", participants: 0 },
        ])
        expect(yield* subscription.stats).toEqual({ received: 4, decodeErrors: 2, dropped: 0 })
      }),
    )
  })
