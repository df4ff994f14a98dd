/**
 * Fencing on a test clock, over a placements watch a test drives: an MMR
 * stops serving a meeting as soon as the watch says it is placed elsewhere;
 * when the watch is down for longer than the TTL it stops serving everything
 * it cannot confirm; a watch down briefly costs nothing, and a new watch's
 * replay confirms what is still here.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Queue, Stream, TestClock } from "effect"
import * as Fencing from "../../src/actors/mmr/fencing.js"

type Change = { readonly meeting: string; readonly mmr: Option.Option<string> }

describe("fencing", () => {
  it.scoped("fences a meeting placed elsewhere at once, everything after the watch is down past the TTL, and nothing for a short outage", () =>
    Effect.gen(function* () {
      const serving = new Set(["moved", "kept", "cut-off"])
      const fenced: Array<[string, Fencing.Fenced]> = []
      // Each watch: a queue the test feeds (null ends it), or a failure while the store is down.
      const feeds: Array<Queue.Queue<Change | null>> = []
      let storeDown = false
      const placements = () =>
        Stream.suspend(() => {
          if (storeDown) return Stream.fail("store down")
          const q = Effect.runSync(Queue.unbounded<Change | null>())
          feeds.push(q)
          return Stream.fromQueue(q).pipe(Stream.takeWhile((c): c is Change => c !== null))
        })
      const feed = (c: Change | null) => Queue.offer(feeds.at(-1)!, c)
      const here = (meeting: string): Change => ({ meeting, mmr: Option.some("m1") })
      yield* Fencing.run({
        self: "m1",
        meetings: () => [...serving],
        placements,
        fence: (meeting, why) => Effect.sync(() => void (fenced.push([meeting, why]), serving.delete(meeting))),
        ttl: "3 seconds",
      }).pipe(Effect.forkScoped)
      yield* TestClock.adjust("100 millis") // it watches once it serves a meeting
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      for (const m of ["moved", "kept", "cut-off"]) yield* feed(here(m))
      yield* feed({ meeting: "elsewhere-all-along", mmr: Option.some("m2") }) // not ours: nothing to do
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      expect(fenced).toEqual([])

      // Moved while this MMR was frozen: fenced as soon as the watch says so.
      yield* feed({ meeting: "moved", mmr: Option.some("m2") })
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      expect(fenced).toEqual([["moved", "placed-elsewhere"]])

      // A short outage: the watch ends, the next one replays; nothing is fenced.
      yield* feed(null)
      yield* TestClock.adjust("1 second")
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      for (const m of ["kept", "cut-off"]) yield* feed(here(m))
      yield* TestClock.adjust("5 seconds")
      expect(fenced).toHaveLength(1)

      // A long one: the store stays down past the TTL; whatever it serves is unconfirmed.
      storeDown = true
      yield* feed(null)
      yield* TestClock.adjust("2 seconds")
      expect(fenced).toHaveLength(1)
      yield* TestClock.adjust("3 seconds")
      expect(fenced.slice(1).sort()).toEqual([["cut-off", "unconfirmed"], ["kept", "unconfirmed"]])
    }),
  )
})
