/**
 * The deployment's shared state, as typed buckets: meetings, placements, and
 * presence (with TTL). Every actor opens them the same way.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Effect } from "effect"
import { StoreUnavailable } from "../protocol/errors.js"
import type { KvError } from "../protocol/errors.js"
import { Meeting, Placement } from "../protocol/meeting.js"
import type { Buckets } from "../protocol/subjects.js"
import { Presence } from "../protocol/zone.js"
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

/** @category constructors */
export const open = (options: StoreOptions): Effect.Effect<Stores, KvError, KeyValue> =>
  Effect.gen(function* () {
    const kv = yield* KeyValue
    const replicas = options.replicas ?? 1
    const [meetings, placements, presence] = yield* Effect.all([
      kv.bucket(options.buckets.meetings, { replicas }),
      kv.bucket(options.buckets.placements, { replicas }),
      kv.bucket(options.buckets.presence, { replicas, ttl: options.presenceTtl ?? "3 seconds" }),
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
