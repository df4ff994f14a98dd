/**
 * The zone-probing shell on the in-process bus. The 5.5 s rule runs on a
 * TestClock: nothing waits for real seconds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Exit, Fiber, Option, TestClock } from "effect"
import * as Report from "../../src/actors/client/report.js"
import * as ZoneProbe from "../../src/actors/client/zone-probe.js"
import * as Selection from "../../src/actors/client/zone-selection.js"
import { ZoneControllerProtocol } from "../../src/protocol/controller.js"
import type { ZoneInfo } from "../../src/protocol/web-api.js"
import * as Actor from "../../src/runtime/Actor.js"
import { ControlBus } from "../../src/runtime/ControlBus.js"
import * as MemoryBus from "../../src/transports/memory/bus.js"

const zone = (id: string, controllers: ReadonlyArray<string>): ZoneInfo => ({
  id,
  name: id,
  location: { lat: 0, lon: 0 },
  nats: [],
  assignSubject: `t.${id}.assign`,
  controllers: controllers.map((c) => ({ id: c, subject: `t.${id}.controller.${c}` })),
})

/** A controller that answers probes, optionally after a delay. */
const probeResponder = (z: ZoneInfo, controller: string, delay = 0) =>
  Actor.start(ZoneControllerProtocol, {
    name: `probe-responder/${z.id}/${controller}`,
    listen: [{ subject: `t.${z.id}.controller.${controller}` }],
    concurrency: 16,
    behaviour: Effect.succeed({
      Probe: ({ sample }) => Effect.as(Effect.sleep(delay), { controller, zone: z.id, sample }),
      Assign: () => Effect.dieMessage("not in this test"),
    }),
  })

const select = (zones: ReadonlyArray<ZoneInfo>, options: Partial<Selection.SelectionOptions> = {}) =>
  Effect.gen(function* () {
    const bus = yield* ControlBus
    const recorder = yield* Report.make("1234567890")
    return yield* recorder.phase("zone-selection", (phase) =>
      ZoneProbe.selectZone(zones, () => bus, { ...Selection.defaults, ...options }, "client-1", phase),
    )
  })

describe("zone probing, on a test clock", () => {
  it.scoped("gives up when no controller answers: still waiting at 5,499 ms, unreachable at 5,500 ms", () =>
    Effect.gen(function* () {
      const bus = yield* ControlBus
      const silent = zone("eu", ["c1"])
      const absent = zone("us", ["c1"])
      yield* bus.subscribe(silent.controllers[0]!.subject, {}, () => {}) // listens, never answers
      const selecting = yield* Effect.fork(select([silent, absent]))

      yield* TestClock.adjust("5499 millis")
      expect(Option.isNone(yield* Fiber.poll(selecting))).toBe(true)

      yield* TestClock.adjust("1 millis")
      const failure = yield* Effect.flip(Fiber.join(selecting))
      expect(failure).toBeInstanceOf(ZoneProbe.Unreachable)
      expect(failure.elapsedMs).toBe(5500)
      expect(failure.scores.map((s) => [s.zone, s.answered])).toEqual([
        ["eu", 0],
        ["us", 0],
      ])
    }).pipe(Effect.provide(MemoryBus.layer)),
  )

  it.scoped("counts the deadline from the start of zone selection: 2 s spent connecting leave the probes 3.5 s, not a fresh 5.5 s", () =>
    Effect.gen(function* () {
      const bus = yield* ControlBus
      const silent = zone("eu", ["c1"])
      yield* bus.subscribe(silent.controllers[0]!.subject, {}, () => {}) // listens, never answers
      const since = yield* Clock.currentTimeMillis
      yield* TestClock.adjust("2000 millis") // what connecting to NATS, then the relay, took
      const recorder = yield* Report.make("1234567890")
      const selecting = yield* Effect.fork(
        recorder.phase("zone-selection", (phase) => ZoneProbe.selectZone([silent], () => bus, Selection.defaults, "client-1", phase, since)),
      )
      yield* TestClock.adjust("3499 millis")
      expect(Option.isNone(yield* Fiber.poll(selecting))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const failure = yield* Effect.flip(Fiber.join(selecting))
      expect(failure).toBeInstanceOf(ZoneProbe.Unreachable)
      expect(failure.elapsedMs).toBe(5500)
    }).pipe(Effect.provide(MemoryBus.layer)),
  )

  it.scoped("honours a configured deadline the same way", () =>
    Effect.gen(function* () {
      const selecting = yield* Effect.fork(select([zone("eu", ["c1"])], { deadlineMs: 2000 }))
      yield* TestClock.adjust("1999 millis")
      expect(Option.isNone(yield* Fiber.poll(selecting))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(Exit.isFailure(yield* Fiber.await(selecting))).toBe(true)
    }).pipe(Effect.provide(MemoryBus.layer)),
  )

  it.scoped("keeps probing, and chooses a zone whose controllers come up at 3 s without waiting for the deadline", () =>
    Effect.gen(function* () {
      const late = zone("eu", ["c1"])
      yield* Effect.forkScoped(Effect.zipRight(Effect.sleep("3 seconds"), probeResponder(late, "c1")))
      const selecting = yield* Effect.fork(select([late]))
      yield* TestClock.adjust("2999 millis")
      expect(Option.isNone(yield* Fiber.poll(selecting))).toBe(true)
      // The next probe round after 3 s finds it; well before 5.5 s.
      for (let i = 0; i < 40 && Option.isNone(yield* Fiber.poll(selecting)); i++) yield* TestClock.adjust("25 millis")
      const chosen = yield* Fiber.join(selecting)
      expect(chosen.zone.id).toBe("eu")
      expect(yield* TestClock.currentTimeMillis).toBeLessThan(5500)
    }).pipe(Effect.provide(MemoryBus.layer)),
  )
})

describe("zone probing, sample pacing", () => {
  it.scoped("sends a controller's next sample as soon as the last is answered: instant answers, all samples, no clock time spent", () =>
    Effect.gen(function* () {
      const near = zone("near", ["c1", "c2"])
      yield* probeResponder(near, "c1")
      yield* probeResponder(near, "c2")
      const chosen = yield* select([near])
      expect(chosen.zone.id).toBe("near")
      expect(chosen.scores[0]!.answered).toBe(2 * Selection.defaults.samples)
      // No 20 ms steps: the test clock never moved.
      expect(yield* TestClock.currentTimeMillis).toBe(0)
    }).pipe(Effect.provide(MemoryBus.layer)),
  )

  it.scoped("and a slow controller's at most sampleSpacingMs after the last was sent", () =>
    Effect.gen(function* () {
      const slow = zone("slow", ["c1"])
      yield* probeResponder(slow, "c1", 500)
      const selecting = yield* Effect.fork(select([slow]))
      // Samples at 0, 20 and 40 ms, each answered 500 ms after it was sent.
      yield* TestClock.adjust("539 millis")
      expect(Option.isNone(yield* Fiber.poll(selecting))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const chosen = yield* Fiber.join(selecting)
      expect(chosen.scores[0]!.answered).toBe(3)
    }).pipe(Effect.provide(MemoryBus.layer)),
  )
})

describe("zone probing, in real time", () => {
  it.live("chooses the faster zone over the better-ranked one when the difference is real", () =>
    Effect.gen(function* () {
      const slow = zone("slow-but-near", ["c1", "c2"])
      const fast = zone("fast", ["c1"])
      yield* probeResponder(slow, "c1", 30)
      yield* probeResponder(slow, "c2", 40)
      yield* probeResponder(fast, "c1", 0)
      const chosen = yield* select([slow, fast])
      expect(chosen.zone.id).toBe("fast")
      expect(chosen.answered.map((z) => z.id)).toEqual(["fast", "slow-but-near"])
      const slowScore = chosen.scores.find((s) => s.zone === "slow-but-near")!
      expect(slowScore.latencyMs!).toBeGreaterThanOrEqual(30)
    }).pipe(Effect.scoped, Effect.provide(MemoryBus.layer)),
  )

  it.live("prefers the better-ranked zone when the two are within the tie margin", () =>
    Effect.gen(function* () {
      const near = zone("near", ["c1"])
      const other = zone("other", ["c1"])
      yield* probeResponder(near, "c1")
      yield* probeResponder(other, "c1")
      const chosen = yield* select([near, other], { tieMarginMs: 1000 })
      expect(chosen.zone.id).toBe("near")
    }).pipe(Effect.scoped, Effect.provide(MemoryBus.layer)),
  )

  it.live("ignores a dead controller and takes the zone's live one", () =>
    Effect.gen(function* () {
      const z = zone("eu", ["dead", "alive"])
      yield* probeResponder(z, "alive")
      const chosen = yield* Effect.either(select([z], { probeTimeoutMs: 200 }))
      expect(Either.isRight(chosen) && chosen.right.zone.id).toBe("eu")
      if (Either.isRight(chosen)) {
        expect(chosen.right.scores[0]).toMatchObject({ zone: "eu", answered: 3, loss: 0 })
      }
    }).pipe(Effect.scoped, Effect.provide(MemoryBus.layer)),
  )
})
