/**
 * Fencing on a test clock: an MMR stops serving a meeting the round after
 * its placement names another MMR, and one it cannot confirm for longer than
 * the TTL; a meeting confirmed each round is kept, and a store that fails
 * briefly costs nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import * as Fencing from "../../src/actors/mmr/fencing.js"

describe("fencing", () => {
  it.scoped("fences a meeting placed elsewhere at the next round, an unconfirmable one after the TTL, and keeps the rest", () =>
    Effect.gen(function* () {
      const serving = new Set(["moved", "kept", "cut-off"])
      const placements = new Map([["moved", "m1"], ["kept", "m1"], ["cut-off", "m1"]])
      let storeDown = false
      const fenced: Array<[string, Fencing.Fenced]> = []
      yield* Fencing.run({
        self: "m1",
        meetings: () => [...serving],
        placementOf: (meeting) =>
          storeDown && meeting === "cut-off" ? Effect.fail({ message: "no store" }) : Effect.succeed(Option.fromNullable(placements.get(meeting))),
        fence: (meeting, why) => Effect.sync(() => void (fenced.push([meeting, why]), serving.delete(meeting))),
        interval: "1 second",
        ttl: "3 seconds",
      }).pipe(Effect.forkScoped)
      yield* TestClock.adjust("1 second")
      expect(fenced).toEqual([])
      placements.set("moved", "m2") // moved while this MMR was frozen
      storeDown = true
      yield* TestClock.adjust("1 second")
      expect(fenced).toEqual([["moved", "placed-elsewhere"]])
      yield* TestClock.adjust("2 seconds") // 3 s since "cut-off" was last confirmed: not yet over the TTL
      expect(fenced).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      expect(fenced).toEqual([["moved", "placed-elsewhere"], ["cut-off", "unconfirmed"]])
      yield* TestClock.adjust("5 seconds")
      expect([...serving]).toEqual(["kept"])
    }),
  )
})
