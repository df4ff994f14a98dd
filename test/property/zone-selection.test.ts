/**
 * Zone selection's decision over arbitrary probe outcomes: the best answered
 * zone wins; with no answers there is no choice, and "unreachable" comes at
 * the deadline and not before; every wait ends in the future.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type { Observation, SelectionState, ZoneTarget } from "../../src/actors/client/zone-selection.js"
import * as Selection from "../../src/actors/client/zone-selection.js"

const options = Selection.defaults

/** 1–4 zones of 0–3 controllers, ranked in order. */
const zonesArb = fc
  .array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 })
  .map((counts): ReadonlyArray<ZoneTarget> =>
    counts.map((n, rank) => ({ zone: `z${rank}`, rank, controllers: Array.from({ length: n }, (_, i) => `c${i}`) })),
  )

/** Per probe: an answer with some RTT, or a loss. */
const resultArb = fc.oneof(
  fc.record({ _tag: fc.constant("answered" as const), rttMs: fc.double({ min: 0.05, max: 800, noNaN: true }) }),
  fc.record({ _tag: fc.constant("lost" as const), reason: fc.constantFrom("RequestTimeout", "NoResponders") }),
)

/** Every probe of round 0 observed, with the given results, at `at`. */
const completeRound = (zones: ReadonlyArray<ZoneTarget>, results: ReadonlyArray<Observation["result"]>, at: number) => {
  let state = Selection.startRound(Selection.initial(0), 0, Selection.probesPerRound(zones, options))
  let i = 0
  for (const z of zones)
    for (const controller of z.controllers)
      for (let sample = 0; sample < options.samples; sample++) {
        state = Selection.observe(state, { zone: z.zone, controller, round: 0, sample, result: results[i++ % results.length]!, at })
      }
  return state
}

const anyAnswered = (s: SelectionState) => s.observations.some((o) => o.result._tag === "answered")

describe("zone selection decision", () => {
  it.prop(
    "chooses an answered zone no worse than the best score plus the tie margin, and the best ranked among those",
    [zonesArb, fc.array(resultArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5000 })],
    ([zones, results, at]) => {
      const state = completeRound(zones, results, at)
      fc.pre(anyAnswered(state))
      const decision = Selection.decide(zones, options, state, at)
      expect(decision._tag).toBe("Chosen")
      if (decision._tag !== "Chosen") return
      const answered = decision.scores.filter((s) => s.score !== undefined)
      const chosen = decision.scores.find((s) => s.zone === decision.zone)!
      const lowest = Math.min(...answered.map((s) => s.score!))
      expect(chosen.answered).toBeGreaterThan(0)
      expect(chosen.score!).toBeLessThanOrEqual(lowest + options.tieMarginMs)
      for (const s of answered) if (s.score! <= lowest + options.tieMarginMs) expect(chosen.rank).toBeLessThanOrEqual(s.rank)
    },
  )

  it.prop(
    "never chooses without an answer, and gives up exactly at the deadline",
    [zonesArb, fc.integer({ min: 0, max: 12_000 })],
    ([zones, now]) => {
      const lost = [{ _tag: "lost" as const, reason: "RequestTimeout" }]
      const state = completeRound(zones, lost, Math.min(now, 1000))
      const decision = Selection.decide(zones, options, state, now)
      expect(decision._tag).not.toBe("Chosen")
      const noTargets = Selection.probesPerRound(zones, options) === 0
      expect(decision._tag === "Unreachable").toBe(noTargets || now >= options.deadlineMs)
    },
  )

  it.prop(
    "never declares the zones unreachable once any controller answered",
    [zonesArb, fc.array(resultArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 12_000 })],
    ([zones, results, now]) => {
      const state = completeRound(zones, results, 0)
      fc.pre(anyAnswered(state))
      expect(Selection.decide(zones, options, state, now)._tag).not.toBe("Unreachable")
    },
  )

  it.prop(
    "always waits for a moment in the future, so the prober never spins",
    [zonesArb, fc.array(resultArb, { minLength: 1, maxLength: 40 }), fc.nat({ max: 40 }), fc.integer({ min: 0, max: 6000 })],
    ([zones, results, observed, now]) => {
      // Some probes still outstanding: only `observed` of them came back.
      let state = Selection.startRound(Selection.initial(0), 0, Selection.probesPerRound(zones, options))
      const targets = zones.flatMap((z) => z.controllers.map((c) => [z.zone, c] as const))
      for (let i = 0; i < Math.min(observed, state.sent); i++) {
        const [zone, controller] = targets[i % targets.length]!
        state = Selection.observe(state, { zone, controller, round: 0, sample: i, result: results[i % results.length]!, at: Math.min(now, i) })
      }
      const decision = Selection.decide(zones, options, state, now)
      if (decision._tag === "Wait") expect(decision.until).toBeGreaterThan(now)
    },
  )

  it("waits at most the settle time for stragglers once someone answered", () => {
    const zones: ReadonlyArray<ZoneTarget> = [
      { zone: "near", rank: 0, controllers: ["c1"] },
      { zone: "far", rank: 1, controllers: ["c1"] },
    ]
    let state = Selection.startRound(Selection.initial(0), 0, 2 * options.samples)
    state = Selection.observe(state, { zone: "far", controller: "c1", round: 0, sample: 0, result: { _tag: "answered", rttMs: 80 }, at: 80 })
    expect(Selection.decide(zones, options, state, 100)).toEqual({ _tag: "Wait", until: 80 + options.settleMs })
    const decision = Selection.decide(zones, options, state, 80 + options.settleMs)
    expect(decision._tag === "Chosen" && decision.zone).toBe("far")
  })

  it("scores latency, jitter and loss: a steady zone beats a slightly faster, lossy one", () => {
    const zones: ReadonlyArray<ZoneTarget> = [
      { zone: "lossy", rank: 0, controllers: ["c1"] },
      { zone: "steady", rank: 1, controllers: ["c1"] },
    ]
    let state = Selection.startRound(Selection.initial(0), 0, 6)
    const rtts = { lossy: [20, undefined, 20], steady: [30, 31, 30] } as const
    for (const zone of ["lossy", "steady"] as const)
      rtts[zone].forEach((rtt, sample) => {
        state = Selection.observe(state, {
          zone,
          controller: "c1",
          round: 0,
          sample,
          result: rtt === undefined ? { _tag: "lost", reason: "RequestTimeout" } : { _tag: "answered", rttMs: rtt },
          at: 50,
        })
      })
    const decision = Selection.decide(zones, options, state, 50)
    expect(decision._tag === "Chosen" && decision.zone).toBe("steady")
    if (decision._tag === "Chosen") {
      expect(decision.scores.find((s) => s.zone === "lossy")).toMatchObject({ latencyMs: 20, loss: 1 / 3, answered: 2, sent: 3 })
      expect(decision.scores.find((s) => s.zone === "steady")).toMatchObject({ latencyMs: 30, jitterMs: 1, loss: 0 })
    }
  })
})
