/**
 * The ControlBus contract: what every bus must do, run unchanged against the
 * NATS bus (real nats-server) and the in-process bus.
 */
import { expect, layer } from "@effect/vitest"
import type { Layer } from "effect"
import { Deferred, Effect, Either, Exit, Scope } from "effect"
import type { IncomingMessage } from "../../../src/runtime/ControlBus.js"
import { ControlBus } from "../../../src/runtime/ControlBus.js"

const text = new TextEncoder()
const read = new TextDecoder()
let counter = 0
/** Subjects no other test uses, so tests can share one bus. */
export const uniqueSubject = (label: string) => `test.${label}.${process.pid}.${++counter}`

/** Collects what a subscription receives into an array. */
export const collect = (subject: string, queue?: string) =>
  Effect.gen(function* () {
    const bus = yield* ControlBus
    const got: Array<IncomingMessage> = []
    yield* bus.subscribe(subject, queue === undefined ? {} : { queue }, (m) => got.push(m))
    return got
  })

/** Polls `condition` (bounded: 200 × 10 ms) until true. */
export const eventually = (condition: () => boolean, what = "condition") =>
  Effect.gen(function* () {
    for (let i = 0; i < 200; i++) {
      if (condition()) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

export const controlBusContract = <E>(name: string, busLayer: Layer.Layer<ControlBus, E>) =>
  layer(busLayer, { excludeTestServices: true, timeout: "30 seconds" })(`ControlBus contract: ${name}`, (it) => {
    it.scoped("delivers a published message, with its headers, to every plain subscriber", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("pub")
        const a = yield* collect(subject)
        const b = yield* collect(subject)
        yield* bus.publish(subject, text.encode("hello"), { "Mz-Test": "1" })
        yield* eventually(() => a.length === 1 && b.length === 1, "both subscribers")
        expect(read.decode(a[0]!.data)).toBe("hello")
        expect(a[0]!.header("Mz-Test")).toBe("1")
        expect(a[0]!.header("Absent")).toBeUndefined()
        expect(a[0]!.reply).toBeUndefined()
      }),
    )

    it.scoped("matches * to one token and > to the rest", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const base = uniqueSubject("wild")
        const star = yield* collect(`${base}.*.load`)
        const tail = yield* collect(`${base}.>`)
        yield* bus.publish(`${base}.mmr1.load`, text.encode("1"))
        yield* bus.publish(`${base}.mmr1.load.extra`, text.encode("2"))
        yield* bus.publish(`${base}`, text.encode("3"))
        yield* eventually(() => tail.length === 2, "tail subscriber")
        yield* bus.flush
        expect(star.map((m) => m.subject)).toEqual([`${base}.mmr1.load`])
        expect(tail.map((m) => m.subject).sort()).toEqual([`${base}.mmr1.load`, `${base}.mmr1.load.extra`])
      }),
    )

    it.scoped("gives each message to exactly one member of a queue group", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("queue")
        const a = yield* collect(subject, "workers")
        const b = yield* collect(subject, "workers")
        const observer = yield* collect(subject)
        for (let i = 0; i < 100; i++) yield* bus.publish(subject, text.encode(String(i)))
        yield* eventually(() => a.length + b.length === 100 && observer.length === 100, "100 deliveries")
        const seen = [...a, ...b].map((m) => Number(read.decode(m.data))).sort((x, y) => x - y)
        expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i))
        expect(a.length).toBeGreaterThan(0)
        expect(b.length).toBeGreaterThan(0)
      }),
    )

    it.scoped("answers a request with the responder's reply and headers", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("req")
        yield* bus.subscribe(subject, {}, (m) => {
          m.respond(text.encode(`echo:${read.decode(m.data)}:${m.header("Mz-Asked") ?? ""}`), { "Mz-Answered": "yes" })
        })
        const reply = yield* bus.request(subject, text.encode("ping"), { timeoutMs: 2000, headers: { "Mz-Asked": "a" } })
        expect(read.decode(reply.data)).toBe("echo:ping:a")
        expect(reply.header("Mz-Answered")).toBe("yes")
      }),
    )

    it.scoped("fails a request with NoResponders when nobody listens", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("nobody")
        const result = yield* Effect.either(bus.request(subject, text.encode("x"), { timeoutMs: 2000 }))
        expect(Either.isLeft(result) && result.left._tag).toBe("NoResponders")
        if (Either.isLeft(result) && result.left._tag === "NoResponders") expect(result.left.subject).toBe(subject)
      }),
    )

    it.scoped("fails a request with RequestTimeout when the listener never answers", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("silent")
        yield* bus.subscribe(subject, {}, () => {})
        const result = yield* Effect.either(bus.request(subject, text.encode("x"), { timeoutMs: 150 }))
        expect(Either.isLeft(result) && result.left._tag).toBe("RequestTimeout")
        if (Either.isLeft(result) && result.left._tag === "RequestTimeout") expect(result.left.timeoutMs).toBe(150)
      }),
    )

    it.scoped("stops delivering when the subscription's scope closes", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("unsub")
        const inner = yield* Scope.make()
        yield* bus.subscribe(subject, {}, (m) => m.respond(text.encode("here"))).pipe(Scope.extend(inner))
        yield* bus.request(subject, text.encode("x"), { timeoutMs: 2000 })
        yield* Scope.close(inner, Exit.void)
        yield* bus.flush
        const result = yield* Effect.either(bus.request(subject, text.encode("x"), { timeoutMs: 2000 }))
        expect(Either.isLeft(result) && result.left._tag).toBe("NoResponders")
      }),
    )

    it.scoped("hands every receiver its own bytes: a sender reusing its buffer changes nothing", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("copy")
        const got = yield* collect(subject)
        const buffer = text.encode("first")
        yield* bus.publish(subject, buffer)
        buffer.set(text.encode("XXXXX"))
        yield* eventually(() => got.length === 1, "delivery")
        expect(read.decode(got[0]!.data)).toBe("first")
      }),
    )

    it.scoped("rejects a malformed subject with a BusError naming it", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const result = yield* Effect.either(bus.publish("has space.x", text.encode("x")))
        expect(Either.isLeft(result) && result.left._tag).toBe("BusError")
      }),
    )

    it.scoped("keeps answering many concurrent requests, each with its own reply", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("many")
        yield* bus.subscribe(subject, { queue: "q" }, (m) => m.respond(m.data))
        yield* bus.subscribe(subject, { queue: "q" }, (m) => m.respond(m.data))
        const replies = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => Effect.map(bus.request(subject, text.encode(String(i)), { timeoutMs: 5000 }), (r) => read.decode(r.data)),
          { concurrency: 32 },
        )
        expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => String(i)))
      }),
    )

    it.scoped("delivers a request's reply only to the asker", () =>
      Effect.gen(function* () {
        const bus = yield* ControlBus
        const subject = uniqueSubject("private")
        const seen = yield* Deferred.make<string>()
        yield* bus.subscribe(subject, {}, (m) => {
          Deferred.unsafeDone(seen, Effect.succeed(m.reply ?? ""))
          m.respond(text.encode("for you"))
        })
        const reply = yield* bus.request(subject, text.encode("x"), { timeoutMs: 2000 })
        expect(read.decode(reply.data)).toBe("for you")
        expect(yield* Deferred.await(seen)).not.toBe("")
      }),
    )
  })

