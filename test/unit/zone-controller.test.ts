/**
 * The zone controller on the in-process bus and store, with a TestClock: MMR
 * liveness by TTL to the millisecond, replacement of dead MMRs' placements,
 * draining, capacity, tokens, and racing assigns.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer, Option, TestClock } from "effect"
import * as Stores from "../../src/actors/stores.js"
import { layerLeastLoaded } from "../../src/actors/zone-controller/selector.js"
import * as ZoneController from "../../src/actors/zone-controller/ZoneController.js"
import { Assign } from "../../src/protocol/controller.js"
import * as Subjects from "../../src/protocol/subjects.js"
import { JoinTokens, layerHmac } from "../../src/protocol/token.js"
import type { MmrLoad } from "../../src/protocol/zone.js"
import { MmrLoad as MmrLoadSchema } from "../../src/protocol/zone.js"
import { ask } from "../../src/runtime/Ask.js"
import * as Topic from "../../src/runtime/Topic.js"
import * as MemoryBus from "../../src/transports/memory/bus.js"
import * as MemoryKv from "../../src/transports/memory/kv.js"

const subjects = Subjects.make("t")
const buckets = Subjects.buckets("t")
const zone = "eu"

const services = Layer.mergeAll(MemoryBus.layer, MemoryKv.layer, layerHmac("x".repeat(32)), layerLeastLoaded)

const load = (mmr: string, over: Partial<MmrLoad> = {}): MmrLoad => ({
  mmr,
  zone,
  subject: subjects.mmr(mmr),
  meetings: 0,
  participants: 0,
  capacity: 100,
  cpu: 0,
  packetsPerSecond: 0,
  draining: false,
  at: 0,
  ...over,
})

/** Lets bus deliveries and the controller's fibers run. */
const settle = Effect.repeatN(Effect.yieldNow(), 100)

const report = (l: MmrLoad) => Effect.zipRight(Topic.publish(subjects.zoneLoad(zone), MmrLoadSchema, l), settle)

let meetingSeq = 1_000_000_000
const assign = (meeting = String(++meetingSeq), controller = "c1") =>
  Effect.gen(function* () {
    const { token } = yield* (yield* JoinTokens).sign({ meeting, participant: "p", name: "p" }, "1 minute")
    return yield* ask(subjects.controller(zone, controller), new Assign({ meeting, token }))
  })

const startController = (id = "c1") =>
  ZoneController.start({ zone, id, subjects, buckets, mmrTtl: "3 seconds", presenceInterval: "1 second" })

describe("zone controller", () => {
  it.scoped("places nothing new on an MMR once it has been silent for its TTL — to the millisecond", () =>
    Effect.gen(function* () {
      yield* startController()
      yield* report(load("a"))
      yield* report(load("b", { participants: 50 }))
      expect((yield* assign()).mmr).toBe("a") // the emptier one

      // b keeps reporting, a falls silent.
      for (let t = 1; t <= 3; t++) {
        yield* TestClock.adjust("1 second")
        yield* report(load("b", { participants: 50, at: t * 1000 }))
      }
      expect((yield* assign()).mmr).toBe("a") // silent exactly 3 s: still within its TTL
      yield* TestClock.adjust("1 millis")
      expect((yield* assign()).mmr).toBe("b")
    }).pipe(Effect.provide(services)),
  )

  it.scoped("moves a dead MMR's meeting to a live one, once, by compare-and-set", () =>
    Effect.gen(function* () {
      yield* startController()
      yield* report(load("a"))
      yield* report(load("b", { participants: 10 }))
      const meeting = "1999999999"
      const first = yield* assign(meeting)
      expect(first.mmr).toBe("a")
      expect((yield* assign(meeting)).mmr).toBe("a") // same meeting, same MMR while a lives

      yield* TestClock.adjust("4 seconds")
      yield* report(load("b", { participants: 10, at: 4000 }))
      const moved = yield* assign(meeting)
      expect(moved.mmr).toBe("b")
      const stores = yield* Stores.open({ buckets })
      const stored = Option.getOrThrow(yield* stores.placements.get(meeting))
      expect(stored.value).toEqual(moved)
      expect((yield* assign(meeting)).mmr).toBe("b")
    }).pipe(Effect.provide(services)),
  )

  it.scoped("gives a draining MMR no new meetings, and answers NoCapacity when nobody has room", () =>
    Effect.gen(function* () {
      yield* startController()
      yield* report(load("a", { draining: true }))
      yield* report(load("b", { participants: 99 }))
      expect((yield* assign()).mmr).toBe("b")
      // b now counts that placement (99 + 1 = capacity) until its next report.
      const full = yield* Effect.flip(assign())
      expect(full).toMatchObject({ _tag: "NoCapacity", zone, liveMmrs: 2 })
    }).pipe(Effect.provide(services)),
  )

  it.scoped("refuses a forged token, and a token for another meeting", () =>
    Effect.gen(function* () {
      yield* startController()
      yield* report(load("a"))
      const forged = yield* Effect.flip(ask(subjects.controller(zone, "c1"), new Assign({ meeting: "1234567890", token: "x.y.z" })))
      expect(forged._tag).toBe("InvalidToken")
      const { token } = yield* (yield* JoinTokens).sign({ meeting: "1111111111", participant: "p", name: "p" }, "1 minute")
      const other = yield* Effect.flip(ask(subjects.controller(zone, "c1"), new Assign({ meeting: "2222222222", token })))
      expect(other).toMatchObject({ _tag: "InvalidToken", reason: "the token is for meeting 1111111111" })
    }).pipe(Effect.provide(services)),
  )

  it.scoped("renews its presence while it runs and removes it when it stops", () =>
    Effect.gen(function* () {
      const stores = yield* Stores.open({ buckets, presenceTtl: "3 seconds" })
      const key = Subjects.presenceKey.controller(zone, "c9")
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* startController("c9")
          yield* settle
          yield* TestClock.adjust("10 seconds") // ten renewals: never lapses
          yield* settle
          expect(Option.isSome(yield* stores.presence.get(key))).toBe(true)
        }),
      )
      expect(Option.isNone(yield* stores.presence.get(key))).toBe(true)
    }).pipe(Effect.provide(services)),
  )

  it.effect.prop(
    "n assigns racing across two controllers place one meeting on exactly one MMR",
    [fc.integer({ min: 2, max: 24 })],
    ([n]) =>
      Effect.scoped(
        Effect.gen(function* () {
          yield* startController("c1")
          yield* startController("c2")
          for (const mmr of ["a", "b", "c"]) yield* report(load(mmr))
          const meeting = String(++meetingSeq)
          const placements = yield* Effect.forEach(
            Array.from({ length: n }, (_, i) => i),
            (i) => assign(meeting, i % 2 === 0 ? "c1" : "c2"),
            { concurrency: "unbounded" },
          )
          expect(new Set(placements.map((p) => p.mmr)).size).toBe(1)
        }),
      ).pipe(Effect.provide(services)),
    { fastCheck: { numRuns: 100 } },
  )
})
