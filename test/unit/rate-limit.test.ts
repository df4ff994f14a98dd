/**
 * The rate limiter as a pure function of keys and time: a burst, then
 * refusals that say when to come back, refills at the configured rate, keys
 * apart from each other, and memory bounded however many keys a flood uses.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as RateLimit from "../../src/runtime/RateLimit.js"

describe("rate limits", () => {
  it("gives the burst, refuses with the time to the next token, refills at the rate", () => {
    const limiter = RateLimit.make({ perMinute: 60, burst: 2 })
    expect(limiter.take("a", 0)).toEqual({ ok: true })
    expect(limiter.take("a", 0)).toEqual({ ok: true })
    expect(limiter.take("a", 0)).toEqual({ ok: false, retryAfterMs: 1000 })
    expect(limiter.take("a", 400)).toEqual({ ok: false, retryAfterMs: 600 })
    expect(limiter.take("b", 400)).toEqual({ ok: true }) // another key is not affected
    expect(limiter.take("a", 1000)).toEqual({ ok: true })
    expect(limiter.refused()).toBe(2)
  })

  it.prop("never lets more through than the burst plus what the rate refilled", [fc.array(fc.integer({ min: 0, max: 60_000 }), { minLength: 1, maxLength: 200 })], ([times]) => {
    const limiter = RateLimit.make({ perMinute: 30, burst: 5 })
    const sorted = [...times].sort((a, b) => a - b)
    const passed = sorted.filter((t) => limiter.take("k", t).ok).length
    expect(passed).toBeLessThanOrEqual(5 + Math.floor(((sorted.at(-1)! - sorted[0]!) * 30) / 60_000))
  })

  it("keeps at most maxKeys buckets: a flood of new addresses cannot grow it", () => {
    const limiter = RateLimit.make({ perMinute: 1, burst: 1 }, 100)
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, 0)
    // The oldest were forgotten, so the first address has a full bucket again; a recent one does not.
    expect(limiter.take("10.0.0.0", 0).ok).toBe(true)
    expect(limiter.take("10.0.39.15", 0).ok).toBe(false)
  })
})
