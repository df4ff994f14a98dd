/**
 * Fault tolerance on a real 3-node JetStream cluster: kill the node that both
 * the actor and its asker are connected to; they reconnect to the survivors,
 * asks are answered again, and KV values written before the crash (3
 * replicas) are still read.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Option, Schedule } from "effect"
import { ask } from "../../src/runtime/Ask.js"
import { KeyValue } from "../../src/runtime/KeyValue.js"
import { clientLayer, cluster, TestNatsCluster } from "../support/nats.js"
import { Echo, startEcho } from "../support/echo-actor.js"
import { poll } from "../support/poll.js"

const text = new TextEncoder()
const read = new TextDecoder()

/** Connected to the first node only; the cluster gossips the others for failover. */
const onFirstNode = Layer.unwrapScoped(
  Effect.map(TestNatsCluster, (c) => clientLayer({ servers: c.nodes[0]!.url, name: "fault-test" })),
)

const patiently = Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(150)))

layer(Layer.provideMerge(onFirstNode, cluster), { excludeTestServices: true, timeout: "90 seconds" })(
  "a 3-node NATS cluster losing a node",
  (it) => {
    it.scoped(
      "keeps answering requests after reconnect, and keeps KV values written before the crash",
      () =>
        Effect.gen(function* () {
          const { nodes } = yield* TestNatsCluster
          const kv = yield* KeyValue
          const subject = "test.fault.echo"
          yield* startEcho(subject)
          const bucket = yield* kv.bucket("fault_placements", { replicas: 3 })
          for (let i = 0; i < 20; i++) yield* bucket.put(`meeting.m${i}`, text.encode(`mmr-${i % 3}`))
          expect(yield* ask(subject, new Echo({ text: "before" }))).toEqual({ text: "before", served: 1 })

          yield* nodes[0]!.kill
          expect(yield* nodes[0]!.running).toBe(false)

          const after = yield* ask(subject, new Echo({ text: "after" }), { timeout: "500 millis", retry: patiently })
          expect(after.text).toBe("after")

          for (let i = 0; i < 20; i++) {
            const entry = yield* bucket.get(`meeting.m${i}`).pipe(Effect.retry(patiently))
            expect(read.decode(Option.getOrThrow(entry).value)).toBe(`mmr-${i % 3}`)
          }
          // And the surviving majority still takes writes.
          yield* bucket.put("meeting.new", text.encode("mmr-9")).pipe(Effect.retry(patiently))
          // Read from any replica (KV direct gets): one that has not applied the write yet answers none for a moment.
          const written = yield* poll(bucket.get("meeting.new").pipe(Effect.retry(patiently)), Option.isSome)
          expect(read.decode(Option.getOrThrow(written).value)).toBe("mmr-9")
        }),
    )
  },
)
