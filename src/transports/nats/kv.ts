/**
 * KeyValue over JetStream KV buckets (`@nats-io/kv`). A bucket's TTL is the
 * stream's max age: a key vanishes that long after its last write, which is
 * what presence keys need on servers before per-message TTLs (2.11).
 *
 * @since 0.1.0
 */
import type { KV, KvEntry as NatsKvEntry } from "@nats-io/kv"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection as NatsConnectionImpl } from "@nats-io/transport-node"
import { Duration, Effect, Layer, Option, Schedule, Stream } from "effect"
import { KeyExists, KvError, RevisionMismatch } from "../../protocol/errors.js"
import type { Bucket, BucketOptions, KeyValueShape, KvEntry } from "../../runtime/KeyValue.js"
import { KeyValue } from "../../runtime/KeyValue.js"
import { NatsConnection } from "./connection.js"
import { fromQueuedIterator } from "./iterators.js"

/** JetStream's "wrong last sequence": the compare-and-set lost. */
const WRONG_LAST_SEQUENCE = 10071
/** JetStream's "stream name already in use with a different configuration". */
const STREAM_NAME_IN_USE = 10058

const apiCode = (e: unknown): number | undefined => {
  if (typeof e !== "object" || e === null) return undefined
  const code = (e as { code?: unknown }).code
  return typeof code === "number" ? code : undefined
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const toEntry = (e: NatsKvEntry): KvEntry => ({
  key: e.key,
  value: e.value,
  revision: e.revision,
  operation: e.operation === "PUT" ? "put" : "delete",
  createdAt: e.created.getTime(),
})

const makeBucket = (name: string, kv: KV): Bucket => {
  const fail = (operation: string, key: string | undefined, e: unknown) =>
    new KvError({ bucket: name, operation, ...(key !== undefined ? { key } : {}), detail: describe(e) })
  const attempt = <A>(operation: string, key: string | undefined, run: () => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: (e) => fail(operation, key, e) })

  return {
    name,
    get: (key) =>
      Effect.map(attempt("get", key, () => kv.get(key)), (e) =>
        e === null || e.operation !== "PUT" ? Option.none() : Option.some(toEntry(e)),
      ),
    put: (key, value) => attempt("put", key, () => kv.put(key, value)),
    create: (key, value) =>
      Effect.tryPromise({
        try: () => kv.create(key, value),
        catch: (e) => (apiCode(e) === WRONG_LAST_SEQUENCE ? new KeyExists({ bucket: name, key }) : fail("create", key, e)),
      }),
    update: (key, value, revision) =>
      Effect.tryPromise({
        try: () => kv.update(key, value, revision),
        catch: (e) =>
          apiCode(e) === WRONG_LAST_SEQUENCE
            ? new RevisionMismatch({ bucket: name, key, expected: revision })
            : fail("update", key, e),
      }),
    delete: (key, revision) =>
      Effect.tryPromise({
        try: () => kv.delete(key, revision === undefined ? undefined : { previousSeq: revision }),
        catch: (e) =>
          apiCode(e) === WRONG_LAST_SEQUENCE && revision !== undefined
            ? new RevisionMismatch({ bucket: name, key, expected: revision })
            : fail("delete", key, e),
      }),
    keys: (pattern) =>
      attempt("keys", pattern, async () => {
        const found: Array<string> = []
        for await (const k of await kv.keys(pattern ?? ">")) found.push(k)
        return found
      }),
    watch: (options) =>
      fromQueuedIterator(
        attempt("watch", options?.key, () =>
          kv.watch({ key: options?.key ?? ">", include: options?.initial === false ? "updates" : "" }),
        ),
        (e) => fail("watch", options?.key, e),
      ).pipe(Stream.map(toEntry)),
  }
}

/** About 30 s of tries with backoff and jitter, then the open's error stands. */
const openRetry = Schedule.exponential("250 millis", 2).pipe(
  Schedule.union(Schedule.spaced("5 seconds")),
  Schedule.jittered,
  Schedule.upTo("30 seconds"),
)

/**
 * KeyValue over an open connection.
 *
 * @category constructors
 */
export const make = (nc: NatsConnectionImpl): KeyValueShape => {
  const kvm = new Kvm(nc)
  return {
    kind: "jetstream",
    bucket: (name, options?: BucketOptions) =>
      Effect.tryPromise({
        try: async () => {
          const limits = {
            history: options?.history ?? 1,
            replicas: options?.replicas ?? 1,
            ...(options?.ttl !== undefined ? { ttl: Duration.toMillis(options.ttl) } : {}),
          }
          try {
            return await kvm.create(name, limits)
          } catch (e) {
            // Someone made it with other settings: use theirs rather than fail.
            if (apiCode(e) === STREAM_NAME_IN_USE) return await kvm.open(name)
            throw e
          }
        },
        catch: (e) => new KvError({ bucket: name, operation: "open", detail: describe(e) }),
      }).pipe(
        // A cluster that is still electing its JetStream leader times out the first opens: wait for it, within bounds.
        Effect.tapError((e) => Effect.logWarning(e.message)),
        // Permissions do not change by waiting.
        Effect.retry({ schedule: openRetry, while: (e) => !e.detail.includes("Permissions Violation") }),
        Effect.map((kv) => makeBucket(name, kv)),
      ),
  }
}

/**
 * @category layers
 */
export const layerFromConnection: Layer.Layer<KeyValue, never, NatsConnection> = Layer.effect(
  KeyValue,
  Effect.map(NatsConnection, make),
)
