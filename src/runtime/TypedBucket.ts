/**
 * A KeyValue bucket seen through a Schema: values go in and come out typed;
 * a stored value that no longer decodes is a `DecodeError` naming the key,
 * never a crash.
 *
 * @since 0.1.0
 */
import type { Schema } from "effect"
import { Effect, Either, Option, Stream } from "effect"
import type { MessageCodec } from "../protocol/codec.js"
import { messageCodec } from "../protocol/codec.js"
import type { KeyExists, KvError, RevisionMismatch } from "../protocol/errors.js"
import { DecodeError } from "../protocol/errors.js"
import type { Bucket, WatchOptions } from "./KeyValue.js"

/**
 * A live value and the revision to compare-and-set against.
 *
 * @category models
 */
export interface Versioned<A> {
  readonly key: string
  readonly value: A
  readonly revision: number
  readonly createdAt: number
}

/**
 * A change seen by a watch: a value, or none for a delete.
 *
 * @category models
 */
export interface Change<A> {
  readonly key: string
  readonly value: Option.Option<A>
  readonly revision: number
}

/**
 * @category models
 */
export interface TypedBucket<A> {
  readonly name: string
  readonly get: (key: string) => Effect.Effect<Option.Option<Versioned<A>>, KvError | DecodeError>
  readonly put: (key: string, value: A) => Effect.Effect<number, KvError>
  readonly create: (key: string, value: A) => Effect.Effect<number, KeyExists | KvError>
  readonly update: (key: string, value: A, revision: number) => Effect.Effect<number, RevisionMismatch | KvError>
  readonly delete: (key: string, revision?: number) => Effect.Effect<void, RevisionMismatch | KvError>
  readonly keys: (pattern?: string) => Effect.Effect<ReadonlyArray<string>, KvError>
  /** Every live value (optionally under a key pattern); undecodable ones are skipped and logged. */
  readonly values: (pattern?: string) => Effect.Effect<ReadonlyArray<Versioned<A>>, KvError>
  /** Changes; an undecodable value is skipped and logged. */
  readonly watch: (options?: WatchOptions) => Stream.Stream<Change<A>, KvError>
}

const decodeStored = <A>(bucket: string, codec: MessageCodec<A>, key: string, bytes: Uint8Array) =>
  Either.mapLeft(
    codec.decode(bytes),
    (issue) => new DecodeError({ subject: `${bucket}/${key}`, side: "message", issue }),
  )

/**
 * Views `bucket` through `schema`.
 *
 * @category constructors
 */
export const make = <A, I>(bucket: Bucket, schema: Schema.Schema<A, I, never>): TypedBucket<A> => {
  const codec = messageCodec(schema)
  const get = (key: string) =>
    Effect.flatMap(bucket.get(key), (entry) => {
      if (Option.isNone(entry)) return Effect.succeed(Option.none<Versioned<A>>())
      const { revision, createdAt, value } = entry.value
      return Either.match(decodeStored(bucket.name, codec, key, value), {
        onLeft: (e) => Effect.fail(e),
        onRight: (a) => Effect.succeed(Option.some<Versioned<A>>({ key, value: a, revision, createdAt })),
      })
    })
  return {
    name: bucket.name,
    get,
    put: (key, value) => bucket.put(key, codec.encode(value)),
    create: (key, value) => bucket.create(key, codec.encode(value)),
    update: (key, value, revision) => bucket.update(key, codec.encode(value), revision),
    delete: bucket.delete,
    keys: bucket.keys,
    values: (pattern) =>
      Effect.flatMap(bucket.keys(pattern), (keys) =>
        Effect.forEach(
          keys,
          (key) =>
            get(key).pipe(
              Effect.catchTag("DecodeError", (e) =>
                Effect.as(Effect.logWarning(`skipping ${e.subject}: ${e.issue}`), Option.none()),
              ),
            ),
          { concurrency: 16 },
        ).pipe(Effect.map((found) => found.flatMap((v) => (Option.isSome(v) ? [v.value] : [])))),
      ),
    watch: (options) =>
      bucket.watch(options).pipe(
        Stream.mapEffect((entry) => {
          if (entry.operation === "delete") {
            return Effect.succeed(Option.some<Change<A>>({ key: entry.key, value: Option.none(), revision: entry.revision }))
          }
          return Either.match(decodeStored(bucket.name, codec, entry.key, entry.value), {
            onLeft: (e) => Effect.as(Effect.logWarning(`skipping ${e.subject}: ${e.issue}`), Option.none()),
            onRight: (value) =>
              Effect.succeed(Option.some<Change<A>>({ key: entry.key, value: Option.some(value), revision: entry.revision })),
          })
        }),
        Stream.filterMap((change) => change),
      ),
  }
}
