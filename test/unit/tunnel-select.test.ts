/**
 * The tunnel race (`tunnel-select.ts`) on a TestClock, with connects that
 * answer or fail after chosen virtual delays: the first to answer wins, the
 * others are closed or interrupted, and the deadline is exact.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Fiber, FastCheck as fc, Option, TestClock } from "effect"
import * as Report from "../../src/actors/client/report.js"
import * as TunnelSelect from "../../src/actors/client/tunnel-select.js"

class PingFailed extends Data.TaggedError("PingFailed")<{ readonly message: string }> {}

interface Plan {
  /** Virtual ms until the ping settles; undefined: never. */
  readonly after: number | undefined
  readonly ok: boolean
}

/** Connections opened by the fake connect, so the test can see which were closed. */
const harness = (plans: Record<string, Plan>) => {
  const opened: Array<{ url: string; closed: boolean }> = []
  const connect = (url: string) => {
    const plan = plans[url]!
    if (plan.after === undefined) return Effect.never
    return Effect.sleep(plan.after).pipe(
      Effect.zipRight(
        plan.ok
          ? Effect.sync(() => {
              const c = { url, closed: false, close: () => void (c.closed = true) }
              opened.push(c)
              return c
            })
          : Effect.fail(new PingFailed({ message: `${url} refused` })),
      ),
    )
  }
  const run = (timeoutMs: number) =>
    Effect.gen(function* () {
      const recorder = yield* Report.make("1234567890")
      const result = yield* recorder
        .phase("tunnel", (phase) => TunnelSelect.select(Object.keys(plans), connect, timeoutMs, phase))
        .pipe(Effect.either)
      return { result, report: yield* recorder.report }
    })
  return { opened, run }
}

describe("tunnel selection, on a test clock", () => {
  it.effect("keeps the first tunnel to answer and closes a later one that also answered", () =>
    Effect.gen(function* () {
      const h = harness({
        "wss://a": { after: 300, ok: true },
        "wss://b": { after: 120, ok: true },
        "wss://c": { after: 50, ok: false },
      })
      const fiber = yield* Effect.fork(h.run(5_500))
      yield* TestClock.adjust(119)
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      // b answers at 120 ms; the choice comes a millisecond later (answers in the same millisecond are a tie).
      yield* TestClock.adjust(1)
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(1)
      const { result, report } = yield* Fiber.join(fiber)
      expect(result._tag === "Right" && result.right.url).toBe("wss://b")
      const attempts = report.phases.find((p) => p.name === "tunnel")!.attempts
      expect(attempts.map((a) => [a.target, a.outcome])).toEqual([
        ["wss://c", "failed"],
        ["wss://b", "ok"],
        ["wss://a", "skipped"],
      ])
      expect(attempts[1]!.ms).toBe(120)
    }),
  )

  it.effect("waits until exactly the deadline when no tunnel answers, then fails", () =>
    Effect.gen(function* () {
      const h = harness({ "wss://a": { after: undefined, ok: true }, "wss://b": { after: 10, ok: false } })
      const fiber = yield* Effect.fork(h.run(2_000))
      yield* TestClock.adjust(1_999)
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(1)
      const { result, report } = yield* Fiber.join(fiber)
      expect(result._tag === "Left" && result.left.reason).toBe("no tunnel answered within 2000 ms")
      const attempts = report.phases.find((p) => p.name === "tunnel")!.attempts
      expect(attempts.find((a) => a.target === "wss://a")?.outcome).toBe("timeout")
    }),
  )

  it.effect("fails at once when every tunnel has failed, without waiting for the deadline", () =>
    Effect.gen(function* () {
      const h = harness({ "wss://a": { after: 5, ok: false }, "wss://b": { after: 7, ok: false } })
      const fiber = yield* Effect.fork(h.run(5_500))
      yield* TestClock.adjust(7)
      const { result } = yield* Fiber.join(fiber)
      expect(result._tag === "Left" && result.left.reason).toBe("every tunnel failed")
    }),
  )

  it.effect("two tunnels answering in the same millisecond: the one listed first wins, whichever ping's fiber ran first", () =>
    Effect.gen(function* () {
      for (let round = 0; round < 20; round++) {
        const h = harness({ "wss://t0": { after: 6, ok: true }, "wss://t1": { after: 6, ok: true }, "wss://t2": { after: undefined, ok: false } })
        const fiber = yield* Effect.fork(h.run(5_500))
        yield* TestClock.adjust(10_000)
        const { result } = yield* Fiber.join(fiber)
        expect(result._tag === "Right" && result.right.url).toBe("wss://t0")
        expect(h.opened.find((c) => c.url === "wss://t1")?.closed).toBe(true)
      }
    }),
  )

  it.effect.prop(
    "over arbitrary latencies and failures, the earliest answer wins and every other connection is closed",
    [
      fc.array(fc.record({ after: fc.option(fc.integer({ min: 0, max: 8_000 }), { nil: undefined }), ok: fc.boolean() }), {
        minLength: 1,
        maxLength: 5,
      }),
    ],
    ([plans]) =>
      Effect.gen(function* () {
        const byUrl = Object.fromEntries(plans.map((p, i) => [`wss://t${i}`, p]))
        const h = harness(byUrl)
        const fiber = yield* Effect.fork(h.run(5_500))
        yield* TestClock.adjust(10_000)
        const { result } = yield* Fiber.join(fiber)
        const answering = Object.entries(byUrl)
          .filter(([, p]) => p.ok && p.after !== undefined && p.after < 5_500)
          .sort(([, a], [, b]) => a.after! - b.after!)
        if (answering.length === 0) {
          expect(result._tag).toBe("Left")
        } else {
          // Ties go to the tunnel listed first (the sort is stable).
          expect(result._tag === "Right" && result.right.url).toBe(answering[0]![0])
        }
        // Nothing but the winner stays open.
        const kept = result._tag === "Right" ? result.right.url : undefined
        for (const c of h.opened) expect(c.closed).toBe(c.url !== kept)
      }),
    { fastCheck: { numRuns: 100 } },
  )
})
