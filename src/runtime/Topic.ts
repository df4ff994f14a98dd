/**
 * Typed publish/subscribe: events and reports that many may hear and no one
 * answers (load reports, presence, roster changes).
 *
 * A subscription is a Stream of decoded messages. A message that does not
 * decode is dropped, counted and logged; the stream goes on. A subscriber that
 * falls more than `buffer` messages behind loses the newest ones (counted),
 * rather than growing without bound.
 *
 * @since 0.1.0
 */
import type { Schema, Scope } from "effect"
import { Effect, Either, Queue, Stream } from "effect"
import { messageCodec } from "../protocol/codec.js"
import type { BusError } from "../protocol/errors.js"
import type { Headers } from "./ControlBus.js"
import { ControlBus } from "./ControlBus.js"

/**
 * Publishes `value` on `subject`, encoded with `schema`.
 *
 * @category publishing
 */
export const publish = <A, I>(
  subject: string,
  schema: Schema.Schema<A, I, never>,
  value: A,
  headers?: Headers,
): Effect.Effect<void, BusError, ControlBus> =>
  Effect.flatMap(ControlBus, (bus) => bus.publish(subject, messageCodec(schema).encode(value), headers))

/**
 * Counters of one subscription.
 *
 * @category models
 */
export interface SubscriptionStats {
  readonly received: number
  readonly decodeErrors: number
  readonly dropped: number
}

/**
 * @category models
 */
export interface Subscription<A> {
  readonly messages: Stream.Stream<A>
  readonly stats: Effect.Effect<SubscriptionStats>
}

/**
 * Subscribes for the life of the current scope.
 *
 * @category subscribing
 */
export const subscribe = <A, I>(
  subject: string,
  schema: Schema.Schema<A, I, never>,
  options?: { readonly queue?: string; readonly buffer?: number },
): Effect.Effect<Subscription<A>, BusError, ControlBus | Scope.Scope> =>
  Effect.gen(function* () {
    const bus = yield* ControlBus
    const codec = messageCodec(schema)
    const queue = yield* Effect.acquireRelease(Queue.dropping<A>(options?.buffer ?? 4096), Queue.shutdown)
    const stats = { received: 0, decodeErrors: 0, dropped: 0 }
    // The callback only enqueues; a fiber of this scope logs (with the application's logger and level).
    const undecodable = yield* Queue.sliding<string>(64)
    yield* Queue.take(undecodable).pipe(Effect.flatMap(Effect.logWarning), Effect.forever, Effect.forkScoped)
    const warn = (issue: string, on: string) => void Queue.unsafeOffer(undecodable, `dropped undecodable message on ${on}: ${issue}`)
    yield* bus.subscribe(subject, options?.queue === undefined ? {} : { queue: options.queue }, (message) => {
      stats.received++
      const decoded = codec.decode(message.data)
      if (Either.isLeft(decoded)) {
        stats.decodeErrors++
        warn(decoded.left, message.subject)
        return
      }
      if (!Queue.unsafeOffer(queue, decoded.right)) stats.dropped++
    })
    return { messages: Stream.fromQueue(queue), stats: Effect.sync(() => ({ ...stats })) }
  })
