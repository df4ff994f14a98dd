/**
 * Headers meetzone puts on control messages, and the correlation id that
 * follows one piece of work (a join, say) across actors and their logs.
 *
 * @since 0.1.0
 */
import { Effect, FiberRef, Option } from "effect"

/** The asker's timeout in ms. Relative, not a wall-clock deadline, so hosts
 * with skewed clocks still agree (as gRPC's `grpc-timeout` does). @category headers */
export const TIMEOUT_HEADER = "Mz-Timeout"
/** @category headers */
export const CORRELATION_HEADER = "Mz-Correlation"

/**
 * The correlation id of the current fiber, inherited by forks and sent with
 * every ask.
 *
 * @category correlation
 */
export const currentCorrelationId: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none())

/**
 * Runs `effect` with `id` as its correlation id (and as a log annotation).
 *
 * @category correlation
 */
export const withCorrelationId =
  (id: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    effect.pipe(Effect.locally(currentCorrelationId, Option.some(id)), Effect.annotateLogs("correlation", id))
