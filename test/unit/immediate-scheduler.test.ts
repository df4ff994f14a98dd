/**
 * The actor's wake-ups: a fiber woken from a socket callback (outside every
 * fiber) runs at once, before the callback returns; the rest of the same
 * burst, and anything woken from inside a fiber, waits for the default
 * scheduler (no nesting, batching under load).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { withImmediateWakeups } from "../../src/runtime/ImmediateScheduler.js"

/** A fiber waiting to be woken; `done` turns true when it has run on. */
const waiter = (immediate: boolean) =>
  Effect.gen(function* () {
    const state = { resume: undefined as undefined | ((e: Effect.Effect<void>) => void), done: false }
    const waiting = Effect.async<void>((resume) => void (state.resume = resume)).pipe(Effect.tap(() => Effect.sync(() => void (state.done = true))))
    const fiber = yield* Effect.fork(immediate ? withImmediateWakeups(waiting) : waiting)
    for (let i = 0; i < 100 && state.resume === undefined; i++) yield* Effect.yieldNow()
    return { state, fiber }
  })

/** Runs `f` in a timer callback (outside every fiber) and returns what it returned. */
const fromCallback = <A>(f: () => A) => Effect.promise(() => new Promise<A>((ok) => setTimeout(() => ok(f()), 0)))

describe("immediate wake-ups", () => {
  it.live("a fiber woken from a callback runs before the callback returns (the default scheduler: a microtask later)", () =>
    Effect.gen(function* () {
      const fast = yield* waiter(true)
      const slow = yield* waiter(false)
      const seen = yield* fromCallback(() => {
        fast.state.resume!(Effect.void)
        slow.state.resume!(Effect.void)
        return { fast: fast.state.done, slow: slow.state.done }
      })
      expect(seen).toEqual({ fast: true, slow: false })
      yield* Fiber.join(slow.fiber)
      expect(slow.state.done).toBe(true)
    }),
  )

  it.live("only the first wake-up of a burst runs at once; the rest run together after it", () =>
    Effect.gen(function* () {
      const waiters = [yield* waiter(true), yield* waiter(true), yield* waiter(true)]
      const seen = yield* fromCallback(() => waiters.map((w) => (w.state.resume!(Effect.void), w.state.done)))
      expect(seen).toEqual([true, false, false])
      yield* Fiber.joinAll(waiters.map((w) => w.fiber))
      expect(waiters.every((w) => w.state.done)).toBe(true)
      // A later callback is a new burst.
      const next = yield* waiter(true)
      expect(yield* fromCallback(() => (next.state.resume!(Effect.void), next.state.done))).toBe(true)
    }),
  )

  it.live("a fiber woken from inside another fiber does not run nested in it", () =>
    Effect.gen(function* () {
      const w = yield* waiter(true)
      const seenInside = yield* Effect.sync(() => (w.state.resume!(Effect.void), w.state.done))
      expect(seenInside).toBe(false)
      yield* Fiber.join(w.fiber)
      expect(w.state.done).toBe(true)
    }),
  )
})
