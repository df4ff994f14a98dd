/**
 * nats.js hands out async iterators (status, KV watch, keys) built on async
 * generators. Releasing one with `return()` while it waits for a message
 * blocks until a message comes — possibly forever — so Stream.fromAsyncIterable
 * cannot be used on them. These are driven by a plain loop and released with
 * the iterator's own `stop()`.
 *
 * @since 0.1.0
 */
import { Effect, Queue, Stream } from "effect"

/** What nats.js's QueuedIterator offers beyond AsyncIterable. */
export interface Stoppable<T> extends AsyncIterable<T> {
  stop(err?: Error): void
}

/**
 * A Stream of the iterator's values; closing the stream stops the iterator.
 *
 * @category constructors
 */
export const fromQueuedIterator = <T, E>(
  acquire: Effect.Effect<Stoppable<T>, E>,
  onError: (e: unknown) => E,
): Stream.Stream<T, E> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const iterator = yield* Effect.acquireRelease(acquire, (it) => Effect.sync(() => it.stop()))
      const queue = yield* Effect.acquireRelease(Queue.unbounded<T>(), Queue.shutdown)
      const failure = yield* Queue.unbounded<E>()
      void (async () => {
        try {
          for await (const value of iterator) Queue.unsafeOffer(queue, value)
        } catch (e) {
          Queue.unsafeOffer(failure, onError(e))
        }
      })()
      const failed = Stream.fromEffect(Effect.flatMap(Queue.take(failure), Effect.fail))
      return Stream.merge(Stream.fromQueue(queue), failed, { haltStrategy: "either" })
    }),
  )
