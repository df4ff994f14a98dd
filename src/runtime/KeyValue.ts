/**
 * Durable shared state: buckets of keys with revisions, in the manner of
 * JetStream KV. Two implementations stand behind it — JetStream
 * (`transports/nats/kv.ts`) and in-process (`transports/memory/kv.ts`) — and
 * one contract test suite runs against both.
 *
 * Revisions are per bucket and only grow. `create` succeeds only where no live
 * value is; `update` only at the expected revision: with these two, two
 * writers racing can never both win.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Option, Stream } from "effect"
import { Context } from "effect"
import type { KeyExists, KvError, RevisionMismatch } from "../protocol/errors.js"

/**
 * @category models
 */
export interface KvEntry {
  readonly key: string
  readonly value: Uint8Array
  readonly revision: number
  readonly operation: "put" | "delete"
  /** Epoch ms of the write. */
  readonly createdAt: number
}

/**
 * @category models
 */
export interface BucketOptions {
  /** Entries vanish this long after their last write (presence with TTL). */
  readonly ttl?: Duration.DurationInput
  /** Revisions kept per key. Default 1. */
  readonly history?: number
  /** Copies across a JetStream cluster (1, 3 or 5). Default 1. */
  readonly replicas?: number
}

/**
 * @category models
 */
export interface WatchOptions {
  /** A key or a wildcard pattern (`meeting.*`, `zone.>`). Default all keys. */
  readonly key?: string
  /** Start with the current value of each matching key. Default true. */
  readonly initial?: boolean
}

/**
 * @category models
 */
export interface Bucket {
  readonly name: string
  /** The live value of `key`; none when absent, deleted or expired. */
  readonly get: (key: string) => Effect.Effect<Option.Option<KvEntry>, KvError>
  /** Writes unconditionally; returns the new revision. */
  readonly put: (key: string, value: Uint8Array) => Effect.Effect<number, KvError>
  /** Writes only if the key holds no live value. */
  readonly create: (key: string, value: Uint8Array) => Effect.Effect<number, KeyExists | KvError>
  /** Writes only if the key is still at `revision` (compare-and-set). */
  readonly update: (key: string, value: Uint8Array, revision: number) => Effect.Effect<number, RevisionMismatch | KvError>
  /** Deletes; with `revision`, only if the key is still at it. */
  readonly delete: (key: string, revision?: number) => Effect.Effect<void, RevisionMismatch | KvError>
  /** Live keys, optionally matching a wildcard pattern. */
  readonly keys: (pattern?: string) => Effect.Effect<ReadonlyArray<string>, KvError>
  /** Changes as they happen (puts and deletes; expiry is silent, as in JetStream). */
  readonly watch: (options?: WatchOptions) => Stream.Stream<KvEntry, KvError>
}

/**
 * @category models
 */
export interface KeyValueShape {
  readonly kind: string
  /** Opens the bucket, creating it with `options` when it does not exist. */
  readonly bucket: (name: string, options?: BucketOptions) => Effect.Effect<Bucket, KvError>
}

/**
 * @category tags
 */
export class KeyValue extends Context.Tag("meetzone/KeyValue")<KeyValue, KeyValueShape>() {}
