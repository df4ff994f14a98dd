/**
 * The in-process KeyValue: the JetStream KV semantics meetzone relies on
 * (per-bucket revisions, create-if-absent, compare-and-set, deletes as
 * markers, TTL since last write, watches) in one process's memory. Time is
 * Effect's Clock, so TTLs run on a TestClock.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Layer, Option, Queue, Stream } from "effect"
import { KeyExists, RevisionMismatch } from "../../protocol/errors.js"
import type { Bucket, BucketOptions, KeyValueShape, KvEntry } from "../../runtime/KeyValue.js"
import { KeyValue } from "../../runtime/KeyValue.js"
import { matches } from "./subjects.js"

/** One turn of the event loop; independent of Effect's Clock, so TestClock tests are unaffected. */
const nextTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

interface Stored {
  readonly entry: KvEntry
  /** Epoch ms when the entry vanishes; undefined without TTL. */
  readonly expiresAt: number | undefined
}

const makeBucket = (name: string, options: BucketOptions | undefined): Bucket => {
  const ttlMs = options?.ttl === undefined ? undefined : Duration.toMillis(options.ttl)
  const entries = new Map<string, Stored>()
  const watchers = new Set<{ readonly pattern: string; readonly queue: Queue.Queue<KvEntry> }>()
  let lastRevision = 0

  // Expired entries are gone, as if the stream's max age had removed them.
  const current = (key: string, now: number): Stored | undefined => {
    const stored = entries.get(key)
    if (stored === undefined) return undefined
    if (stored.expiresAt !== undefined && now >= stored.expiresAt) {
      entries.delete(key)
      return undefined
    }
    return stored
  }
  const live = (key: string, now: number): KvEntry | undefined => {
    const stored = current(key, now)
    return stored !== undefined && stored.entry.operation === "put" ? stored.entry : undefined
  }
  const write = (key: string, value: Uint8Array, operation: KvEntry["operation"], now: number): number => {
    const entry: KvEntry = { key, value: value.slice(), revision: ++lastRevision, operation, createdAt: now }
    entries.set(key, { entry, expiresAt: ttlMs === undefined ? undefined : now + ttlMs })
    for (const w of watchers) if (matches(w.pattern, key)) Queue.unsafeOffer(w.queue, entry)
    return entry.revision
  }
  // Every operation completes on a later turn of the event loop, as a round
  // trip to a real store does: other work runs between a read and the write
  // that depends on it, so races in tests are real races.
  const withNow = <A, E>(f: (now: number) => Effect.Effect<A, E>) =>
    Effect.zipRight(nextTurn, Effect.flatMap(Clock.currentTimeMillis, f))

  return {
    name,
    get: (key) => withNow((now) => Effect.succeed(Option.fromNullable(live(key, now)))),
    put: (key, value) => withNow((now) => Effect.succeed(write(key, value, "put", now))),
    create: (key, value) =>
      withNow((now) =>
        live(key, now) !== undefined
          ? Effect.fail(new KeyExists({ bucket: name, key }))
          : Effect.succeed(write(key, value, "put", now)),
      ),
    update: (key, value, revision) =>
      withNow((now) =>
        current(key, now)?.entry.revision !== revision
          ? Effect.fail(new RevisionMismatch({ bucket: name, key, expected: revision }))
          : Effect.succeed(write(key, value, "put", now)),
      ),
    delete: (key, revision) =>
      withNow((now) => {
        const stored = current(key, now)
        if (revision !== undefined && stored?.entry.revision !== revision) {
          return Effect.fail(new RevisionMismatch({ bucket: name, key, expected: revision }))
        }
        write(key, new Uint8Array(0), "delete", now)
        return Effect.void
      }),
    keys: (pattern) =>
      withNow((now) =>
        Effect.succeed(
          [...entries.keys()].filter((k) => live(k, now) !== undefined && (pattern === undefined || matches(pattern, k))),
        ),
      ),
    watch: (watchOptions) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const pattern = watchOptions?.key ?? ">"
          const queue = yield* Effect.acquireRelease(Queue.unbounded<KvEntry>(), Queue.shutdown)
          const now = yield* Clock.currentTimeMillis
          if (watchOptions?.initial !== false) {
            const initial = [...entries.keys()]
              .map((k) => live(k, now))
              .filter((e): e is KvEntry => e !== undefined && matches(pattern, e.key))
              .sort((a, b) => a.revision - b.revision)
            yield* Queue.offerAll(queue, initial)
          }
          const watcher = { pattern, queue }
          yield* Effect.acquireRelease(
            Effect.sync(() => watchers.add(watcher)),
            () => Effect.sync(() => watchers.delete(watcher)),
          )
          return Stream.fromQueue(queue)
        }),
      ),
  }
}

/**
 * A fresh, empty store. Everything that should share state must share one instance.
 *
 * @category constructors
 */
export const make = (): KeyValueShape => {
  const buckets = new Map<string, Bucket>()
  return {
    kind: "memory",
    bucket: (name, options) =>
      Effect.sync(() => {
        let bucket = buckets.get(name)
        if (bucket === undefined) {
          bucket = makeBucket(name, options)
          buckets.set(name, bucket)
        }
        return bucket
      }),
  }
}

/**
 * @category layers
 */
export const layer: Layer.Layer<KeyValue> = Layer.sync(KeyValue, make)
