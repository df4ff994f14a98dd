/**
 * The presence view keeps watching: when its KV watch ends or fails (a node
 * of the NATS cluster died, the connection dropped), it watches again, with
 * backoff, and sees what happened meanwhile.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream, TestClock } from "effect"
import * as PresenceView from "../../src/actors/presence-view.js"
import * as Stores from "../../src/actors/stores.js"
import * as Subjects from "../../src/protocol/subjects.js"
import type { Bucket } from "../../src/runtime/KeyValue.js"
import { KeyValue } from "../../src/runtime/KeyValue.js"
import * as MemoryKv from "../../src/transports/memory/kv.js"
import { KvError } from "../../src/protocol/errors.js"

const tunnel = (id: string) => new TextEncoder().encode(JSON.stringify({ kind: "tunnel", id, url: `wss://${id}.example/tunnel`, sessions: 0, at: 0 }))

describe("presence view", () => {
  it.scoped("watches again when its watch ends, and again when it fails", () =>
    Effect.gen(function* () {
      const kv = yield* KeyValue
      let watches = 0
      // The presence bucket as a flaky server gives it: the first watch ends at once, the second fails, the rest hold.
      const flaky = {
        ...kv,
        bucket: (name: string, options?: Parameters<typeof kv.bucket>[1]) =>
          Effect.map(kv.bucket(name, options), (b): Bucket =>
            name.endsWith("_presence")
              ? {
                  ...b,
                  watch: (o) => {
                    watches++
                    return watches === 1 ? Stream.empty : watches === 2 ? Stream.fail(new KvError({ bucket: name, operation: "watch", detail: "connection lost" })) : b.watch(o)
                  },
                }
              : b,
          ),
      }
      const stores = yield* Stores.open({ buckets: Subjects.buckets("pv"), presenceTtl: "1 minute" }).pipe(Effect.provideService(KeyValue, flaky))
      const view = yield* PresenceView.watch(stores, "1 minute")
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      expect(watches).toBeGreaterThanOrEqual(1)
      // Written while the view had no watch: the next one replays it.
      const raw = yield* kv.bucket("pv_presence", { ttl: "1 minute" })
      yield* raw.put("tunnel.t1", tunnel("t1"))
      yield* TestClock.adjust("1 second") // the backoff's waits
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      yield* TestClock.adjust("1 second")
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      expect(watches).toBe(3)
      expect((yield* view.tunnels).map((t) => t.id)).toEqual(["t1"])
      // And live changes come through the watch that holds.
      yield* raw.put("tunnel.t2", tunnel("t2"))
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      expect((yield* view.tunnels).map((t) => t.id).sort()).toEqual(["t1", "t2"])
    }).pipe(Effect.provide(MemoryKv.layer)),
  )
})
