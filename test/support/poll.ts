/**
 * Waiting for something that happens soon over the network: `effect` again
 * every `every` (100 ms) until `until` holds or `tries` run out; the last
 * value either way, for the assertion that follows to explain.
 */
import type { Duration } from "effect"
import { Effect } from "effect"

export const poll = <A, E, R>(effect: Effect.Effect<A, E, R>, until: (a: A) => boolean, tries = 50, every: Duration.DurationInput = "100 millis") =>
  Effect.gen(function* () {
    let value = yield* effect
    for (let i = 0; i < tries && !until(value); i++) value = yield* Effect.zipRight(Effect.sleep(every), effect)
    return value
  })
