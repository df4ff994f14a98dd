/**
 * The KeyValue contract, run unchanged against JetStream KV (real
 * nats-server) and the in-process store.
 */
import { expect, layer } from "@effect/vitest"
import type { Duration, Layer } from "effect"
import { Chunk, Effect, Either, Fiber, FastCheck as fc, Option, Schema, Stream } from "effect"
import type { KvEntry } from "../../../src/runtime/KeyValue.js"
import { KeyValue } from "../../../src/runtime/KeyValue.js"
import * as TypedBucket from "../../../src/runtime/TypedBucket.js"

const text = new TextEncoder()
const read = new TextDecoder()
let counter = 0
const uniqueBucket = (label: string) => `t_${label}_${process.pid}_${++counter}`

export interface KeyValueContractOptions {
  /** fast-check runs for the racing-writers properties. */
  readonly raceRuns: number
}

export const keyValueContract = <E>(name: string, kvLayer: Layer.Layer<KeyValue, E>, options: KeyValueContractOptions) =>
  layer(kvLayer, { excludeTestServices: true, timeout: "60 seconds" })(`KeyValue contract: ${name}`, (it) => {
    const open = (label: string, ttl?: Duration.DurationInput) =>
      Effect.flatMap(KeyValue, (kv) => kv.bucket(uniqueBucket(label), ttl === undefined ? {} : { ttl }))

    it.effect("reads nothing for a key never written", () =>
      Effect.gen(function* () {
        const bucket = yield* open("absent")
        expect(Option.isNone(yield* bucket.get("nobody"))).toBe(true)
      }),
    )

    it.effect("reads back what was put, at a revision that grows with every write", () =>
      Effect.gen(function* () {
        const bucket = yield* open("put")
        const r1 = yield* bucket.put("mmr.a", text.encode("one"))
        const r2 = yield* bucket.put("mmr.b", text.encode("two"))
        const r3 = yield* bucket.put("mmr.a", text.encode("three"))
        expect(r1).toBeGreaterThan(0)
        expect(r2).toBeGreaterThan(r1)
        expect(r3).toBeGreaterThan(r2)
        const a = Option.getOrThrow(yield* bucket.get("mmr.a"))
        expect(read.decode(a.value)).toBe("three")
        expect(a.revision).toBe(r3)
        expect(a.operation).toBe("put")
      }),
    )

    it.effect("creates only where no live value is: KeyExists otherwise, and again after a delete", () =>
      Effect.gen(function* () {
        const bucket = yield* open("create")
        yield* bucket.create("placement.m1", text.encode("mmr-1"))
        const again = yield* Effect.either(bucket.create("placement.m1", text.encode("mmr-2")))
        expect(Either.isLeft(again) && again.left._tag).toBe("KeyExists")
        expect(read.decode(Option.getOrThrow(yield* bucket.get("placement.m1")).value)).toBe("mmr-1")
        yield* bucket.delete("placement.m1")
        expect(Option.isNone(yield* bucket.get("placement.m1"))).toBe(true)
        yield* bucket.create("placement.m1", text.encode("mmr-3"))
        expect(read.decode(Option.getOrThrow(yield* bucket.get("placement.m1")).value)).toBe("mmr-3")
      }),
    )

    it.effect("updates only at the expected revision (compare-and-set)", () =>
      Effect.gen(function* () {
        const bucket = yield* open("cas")
        const r1 = yield* bucket.create("k", text.encode("v1"))
        const r2 = yield* bucket.update("k", text.encode("v2"), r1)
        expect(r2).toBeGreaterThan(r1)
        const stale = yield* Effect.either(bucket.update("k", text.encode("v3"), r1))
        expect(Either.isLeft(stale) && stale.left._tag).toBe("RevisionMismatch")
        if (Either.isLeft(stale) && stale.left._tag === "RevisionMismatch") expect(stale.left.expected).toBe(r1)
        expect(read.decode(Option.getOrThrow(yield* bucket.get("k")).value)).toBe("v2")
      }),
    )

    it.effect("deletes conditionally at a revision, or unconditionally", () =>
      Effect.gen(function* () {
        const bucket = yield* open("delete")
        const r1 = yield* bucket.put("k", text.encode("v1"))
        const r2 = yield* bucket.put("k", text.encode("v2"))
        const stale = yield* Effect.either(bucket.delete("k", r1))
        expect(Either.isLeft(stale) && stale.left._tag).toBe("RevisionMismatch")
        yield* bucket.delete("k", r2)
        expect(Option.isNone(yield* bucket.get("k"))).toBe(true)
        yield* bucket.put("other", text.encode("x"))
        yield* bucket.delete("other")
        expect(Option.isNone(yield* bucket.get("other"))).toBe(true)
      }),
    )

    it.effect("lists live keys, filtered by wildcard pattern, without deleted ones", () =>
      Effect.gen(function* () {
        const bucket = yield* open("keys")
        yield* bucket.put("zone.eu.c1", text.encode("1"))
        yield* bucket.put("zone.eu.c2", text.encode("1"))
        yield* bucket.put("zone.us.c1", text.encode("1"))
        yield* bucket.put("meeting.m1", text.encode("1"))
        yield* bucket.delete("zone.eu.c2")
        expect([...(yield* bucket.keys())].sort()).toEqual(["meeting.m1", "zone.eu.c1", "zone.us.c1"])
        expect([...(yield* bucket.keys("zone.>"))].sort()).toEqual(["zone.eu.c1", "zone.us.c1"])
        expect([...(yield* bucket.keys("zone.*.c1"))].sort()).toEqual(["zone.eu.c1", "zone.us.c1"])
      }),
    )

    it.scoped("watches: current values first, then puts and deletes as they happen", () =>
      Effect.gen(function* () {
        const bucket = yield* open("watch")
        yield* bucket.put("mmr.a", text.encode("a1"))
        yield* bucket.put("other", text.encode("ignored"))
        const seen: Array<KvEntry> = []
        const watcher = yield* bucket.watch({ key: "mmr.*" }).pipe(
          Stream.tap((e) => Effect.sync(() => seen.push(e))),
          Stream.take(4),
          Stream.runCollect,
          Effect.fork,
        )
        // The initial value arrives before any later write is made.
        for (let i = 0; i < 200 && seen.length < 1; i++) yield* Effect.sleep("10 millis")
        yield* bucket.put("mmr.b", text.encode("b1"))
        yield* bucket.put("mmr.a", text.encode("a2"))
        yield* bucket.delete("mmr.b")
        const got = Chunk.toReadonlyArray(yield* Fiber.join(watcher))
        expect(got.map((e) => [e.key, e.operation, e.operation === "put" ? read.decode(e.value) : ""])).toEqual([
          ["mmr.a", "put", "a1"],
          ["mmr.b", "put", "b1"],
          ["mmr.a", "put", "a2"],
          ["mmr.b", "delete", ""],
        ])
        expect(got.map((e) => e.revision)).toEqual([...got.map((e) => e.revision)].sort((a, b) => a - b))
      }),
    )

    it.effect("forgets a key its TTL after the last write, and lets it be created again", () =>
      Effect.gen(function* () {
        const bucket = yield* open("ttl", "400 millis")
        yield* bucket.create("presence.mmr1", text.encode("alive"))
        expect(Option.isSome(yield* bucket.get("presence.mmr1"))).toBe(true)
        let gone = false
        for (let i = 0; i < 100 && !gone; i++) {
          yield* Effect.sleep("50 millis")
          gone = Option.isNone(yield* bucket.get("presence.mmr1"))
        }
        expect(gone).toBe(true)
        expect(yield* bucket.keys()).toEqual([])
        yield* bucket.create("presence.mmr1", text.encode("back"))
      }),
    )

    it.effect("reads typed values, and names the key of a stored value that does not decode", () =>
      Effect.gen(function* () {
        const bucket = yield* open("typed")
        const Placement = Schema.Struct({ mmr: Schema.String, zone: Schema.String })
        const typed = TypedBucket.make(bucket, Placement)
        const revision = yield* typed.create("m1", { mmr: "mmr-1", zone: "eu" })
        expect(Option.getOrThrow(yield* typed.get("m1"))).toMatchObject({ value: { mmr: "mmr-1", zone: "eu" }, revision })
        yield* bucket.put("m2", text.encode(JSON.stringify({ mmr: 7 })))
        const bad = yield* Effect.either(typed.get("m2"))
        expect(Either.isLeft(bad) && bad.left._tag).toBe("DecodeError")
        if (Either.isLeft(bad) && bad.left._tag === "DecodeError") expect(bad.left.subject).toContain("m2")
        expect((yield* typed.values()).map((v) => v.key)).toEqual(["m1"])
      }),
    )

    it.effect.prop(
      "of writers racing a compare-and-set at one revision, exactly one wins, every time",
      [fc.integer({ min: 2, max: 8 })],
      ([writers]) =>
        Effect.gen(function* () {
          const bucket = yield* open("race")
          const revision = yield* bucket.put("placement", text.encode("none"))
          const outcomes = yield* Effect.forEach(
            Array.from({ length: writers }, (_, i) => i),
            (i) => Effect.either(bucket.update("placement", text.encode(`mmr-${i}`), revision)),
            { concurrency: "unbounded" },
          )
          const winners = outcomes.flatMap((o, i) => (Either.isRight(o) ? [i] : []))
          expect(winners).toHaveLength(1)
          for (const o of outcomes) if (Either.isLeft(o)) expect(o.left._tag).toBe("RevisionMismatch")
          expect(read.decode(Option.getOrThrow(yield* bucket.get("placement")).value)).toBe(`mmr-${winners[0]}`)
        }),
      { fastCheck: { numRuns: options.raceRuns } },
    )

    it.effect.prop(
      "of writers racing create-if-absent, exactly one wins, every time",
      [fc.integer({ min: 2, max: 8 })],
      ([writers]) =>
        Effect.gen(function* () {
          const bucket = yield* open("race_create")
          const outcomes = yield* Effect.forEach(
            Array.from({ length: writers }, (_, i) => i),
            (i) => Effect.either(bucket.create("meeting.m1", text.encode(`mmr-${i}`))),
            { concurrency: "unbounded" },
          )
          const winners = outcomes.flatMap((o, i) => (Either.isRight(o) ? [i] : []))
          expect(winners).toHaveLength(1)
          for (const o of outcomes) if (Either.isLeft(o)) expect(o.left._tag).toBe("KeyExists")
          expect(read.decode(Option.getOrThrow(yield* bucket.get("meeting.m1")).value)).toBe(`mmr-${winners[0]}`)
        }),
      { fastCheck: { numRuns: options.raceRuns } },
    )
  })
