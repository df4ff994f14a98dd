/**
 * A fiber scheduler that runs a wake-up at once when it comes from outside
 * every fiber — a socket callback, such as a NATS message for an actor's
 * worker — instead of a microtask later through the default scheduler.
 * From inside a fiber (a fiber waking another, a fiber yielding after its
 * budget of operations) it defers to the default scheduler, so fibers never
 * nest and a busy fiber still yields to the event loop. Only the first
 * wake-up of a burst runs at once: the others that the same socket read
 * delivers (many messages in one chunk, under load) go to the default
 * scheduler, which serves them together in one run of the fiber instead of
 * one suspend and wake-up each.
 *
 * The actor's workers run under it (bench:control sequential 0.74 → 0.80 of
 * raw nats.js). An asker does not: setting it around every ask (a FiberRef
 * changed and restored) cost more than the hop it saved.
 *
 * @since 0.6.0
 */
import type { Scheduler as SchedulerType } from "effect"
import { Effect, Fiber, Option, Scheduler } from "effect"

let running = false
let burst = false
const endBurst = () => void (burst = false)

/** @category schedulers */
export const immediate: SchedulerType.Scheduler = {
  scheduleTask: (task, priority) => {
    if (running || burst || Option.isSome(Fiber.getCurrentFiber())) return Scheduler.defaultScheduler.scheduleTask(task, priority)
    running = true
    burst = true
    queueMicrotask(endBurst)
    try {
      task()
    } finally {
      running = false
    }
  },
  shouldYield: (fiber) => Scheduler.defaultScheduler.shouldYield(fiber),
}

/**
 * Runs `effect` with its wake-ups from socket callbacks taken at once.
 *
 * @category schedulers
 */
export const withImmediateWakeups = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.withScheduler(effect, immediate)
