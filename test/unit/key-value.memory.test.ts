import { expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import * as MemoryKv from "../../src/transports/memory/kv.js"
import { keyValueContract } from "../support/contracts/key-value.js"

keyValueContract("in-process", MemoryKv.layer, { raceRuns: 200 })

it.effect("in-process TTL runs on Effect's clock: a presence key lives exactly its TTL after the last write", () =>
  Effect.gen(function* () {
    const bucket = yield* MemoryKv.make().bucket("presence", { ttl: "3 seconds" })
    yield* bucket.put("mmr.1", new Uint8Array([1]))
    yield* TestClock.adjust("2 seconds")
    yield* bucket.put("mmr.1", new Uint8Array([2])) // a heartbeat renews it
    yield* TestClock.adjust("2999 millis")
    expect(Option.isSome(yield* bucket.get("mmr.1"))).toBe(true)
    yield* TestClock.adjust("1 millis")
    expect(Option.isNone(yield* bucket.get("mmr.1"))).toBe(true)
  }),
)
