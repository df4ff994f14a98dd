/**
 * The deployment's shared state, as typed buckets: meetings, placements, and
 * presence (with TTL). Every actor opens them the same way.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Effect, Stream } from "effect"
import { StoreUnavailable } from "../protocol/errors.js"
import type { KvError } from "../protocol/errors.js"
import { Meeting, Placement } from "../protocol/meeting.js"
import type { Buckets } from "../protocol/subjects.js"
import { Presence } from "../protocol/zone.js"
import type { Bucket } from "../runtime/KeyValue.js"
import { KeyValue } from "../runtime/KeyValue.js"
import * as TypedBucket from "../runtime/TypedBucket.js"

/** @category models */
export interface StoreOptions {
  readonly buckets: Buckets
  /** How long a presence record lives without renewal. Default 3 s. */
  readonly presenceTtl?: Duration.DurationInput
  /** JetStream replicas for every bucket (1, 3 or 5). Default 1. */
  readonly replicas?: number
}

/** @category models */
export interface Stores {
  readonly meetings: TypedBucket.TypedBucket<Meeting>
  readonly placements: TypedBucket.TypedBucket<Placement>
  readonly presence: TypedBucket.TypedBucket<Presence>
}

/**
 * A bucket opened on first use, and kept once open (a failed open is tried
 * again on the next use). Each role touches only the buckets it needs, and
 * its NATS identity may reach no others.
 */
const onFirstUse = (name: string, open: Effect.Effect<Bucket, KvError>): Effect.Effect<Bucket> =>
  Effect.map(Effect.makeSemaphore(1), (lock) => {
    let opened: Bucket | undefined
    const bucket = Effect.suspend(() =>
      opened !== undefined
        ? Effect.succeed(opened)
        : lock.withPermits(1)(
            Effect.suspend(() => (opened !== undefined ? Effect.succeed(opened) : Effect.tap(open, (b) => Effect.sync(() => void (opened = b))))),
          ),
    )
    return {
      name,
      get: (key) => Effect.flatMap(bucket, (b) => b.get(key)),
      put: (key, value) => Effect.flatMap(bucket, (b) => b.put(key, value)),
      create: (key, value) => Effect.flatMap(bucket, (b) => b.create(key, value)),
      update: (key, value, revision) => Effect.flatMap(bucket, (b) => b.update(key, value, revision)),
      delete: (key, revision) => Effect.flatMap(bucket, (b) => b.delete(key, revision)),
      keys: (pattern) => Effect.flatMap(bucket, (b) => b.keys(pattern)),
      watch: (options) => Stream.unwrap(Effect.map(bucket, (b) => b.watch(options))),
    } satisfies Bucket
  })

/** @category constructors */
export const open = (options: StoreOptions): Effect.Effect<Stores, never, KeyValue> =>
  Effect.gen(function* () {
    const kv = yield* KeyValue
    const replicas = options.replicas ?? 1
    const [meetings, placements, presence] = yield* Effect.all([
      onFirstUse(options.buckets.meetings, kv.bucket(options.buckets.meetings, { replicas })),
      onFirstUse(options.buckets.placements, kv.bucket(options.buckets.placements, { replicas })),
      onFirstUse(options.buckets.presence, kv.bucket(options.buckets.presence, { replicas, ttl: options.presenceTtl ?? "3 seconds" })),
    ])
    return {
      meetings: TypedBucket.make(meetings, Meeting),
      placements: TypedBucket.make(placements, Placement),
      presence: TypedBucket.make(presence, Presence),
    }
  })

/**
 * Store failures as the declared `StoreUnavailable` a caller can act on.
 *
 * @category errors
 */
export const unavailable = (store: string) => (e: { readonly message: string }) =>
  new StoreUnavailable({ store, detail: e.message })
