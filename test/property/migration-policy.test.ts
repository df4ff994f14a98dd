/**
 * The migration policy (when a kind leaves UDP, when it comes back) over
 * arbitrary loss patterns and timings: it cannot flap beyond a bound in any
 * window, it always leaves a path that stays bad and stays off it, and it
 * comes back once UDP is good again.
 */
import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import * as Policy from "../../src/actors/client/migration-policy.js"

const options = Policy.defaults

/** Runs observations (reports on the current path, probes when due) at the given times; the changes, by time. */
const run = (events: ReadonlyArray<{ gapMs: number; reportLoss: number; probeLoss: number }>, start = 0) => {
  let state = Policy.initial(options, start)
  let at = start
  const changes: Array<{ at: number; decision: Policy.Decision }> = []
  const apply = (observation: Policy.Observation) => {
    const out = Policy.step(options, state, observation)
    state = out.state
    if (out.decision._tag !== "Stay") changes.push({ at: observation.at, decision: out.decision })
  }
  for (const e of events) {
    at += e.gapMs
    apply({ _tag: "Report", at, loss: e.reportLoss })
    if (Policy.probeDue(options, state, at)) apply({ _tag: "Probe", at, loss: e.probeLoss })
  }
  return { changes, state, at }
}

const loss = fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true }))
const events = (maxLength: number) =>
  fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 3_000 }), reportLoss: loss, probeLoss: loss }), { maxLength })

describe("the migration policy", () => {
  it("never changes more than 2 × ⌊T / returnAfterMs⌋ + 3 times in any window T, whatever the losses and timings", () => {
    fc.assert(
      fc.property(events(400), fc.integer({ min: 1_000, max: 120_000 }), (es, windowMs) => {
        const { changes } = run(es)
        for (const first of changes) {
          const inWindow = changes.filter((c) => c.at >= first.at && c.at < first.at + windowMs).length
          expect(inWindow).toBeLessThanOrEqual(2 * Math.floor(windowMs / options.returnAfterMs) + 3)
        }
        // Leaves and returns alternate.
        changes.forEach((c, i) => expect(c.decision._tag).toBe(i % 2 === 0 ? "Leave" : "Return"))
      }),
      { numRuns: 300 },
    )
  })

  it("a path lossy on and off every 5 s leaves UDP once and stays off: probes never see it good for long enough", () => {
    const es = Array.from({ length: 600 }, (_, i) => {
      const bad = Math.floor(i / 5) % 2 === 0
      return { gapMs: 1_000, reportLoss: bad ? 0.3 : 0, probeLoss: bad ? 0.3 : 0 }
    })
    expect(run(es).changes.map((c) => c.decision._tag)).toEqual(["Leave"])
  })

  it("probes that each caught a little of loss coming and going (under 10 % each, 2.5 % or more together) are no clean path: it stays off UDP", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.025, max: 0.099, noNaN: true }), { minLength: 30, maxLength: 60 }), (probeLosses) => {
        // Leave at once (three bad reports), then only probes, each slightly lossy.
        const bad = Array.from({ length: 3 }, () => ({ gapMs: 1_000, reportLoss: 0.5, probeLoss: 0 }))
        const lossy = probeLosses.map((l) => ({ gapMs: 2_000, reportLoss: 0, probeLoss: l }))
        expect(run([...bad, ...lossy]).changes.map((c) => c.decision._tag)).toEqual(["Leave"])
      }),
      { numRuns: 200 },
    )
  })

  it("a path bad for 5 s in every 40 s comes back each time it is good, but backs off: the waits before returning grow", () => {
    const es = Array.from({ length: 1_200 }, (_, i) => {
      const bad = i % 40 < 5
      return { gapMs: 1_000, reportLoss: bad ? 0.3 : 0, probeLoss: bad ? 0.3 : 0 }
    })
    const { changes } = run(es)
    const returns = changes.filter((c) => c.decision._tag === "Return").map((c) => c.at)
    const leaves = changes.filter((c) => c.decision._tag === "Leave").map((c) => c.at)
    expect(returns.length).toBeGreaterThanOrEqual(2)
    const waits = returns.map((r, i) => r - leaves[i]!)
    for (let i = 1; i < waits.length; i++) expect(waits[i]!).toBeGreaterThanOrEqual(waits[i - 1]!)
    // Twenty minutes of it: without backoff that would be 60 changes.
    expect(changes.length).toBeLessThanOrEqual(20)
  })

  it("always leaves a UDP path that stays bad, within `badReports` reports, and stays off it", () => {
    fc.assert(
      fc.property(events(200), fc.double({ min: options.lossAbove, max: 1, noNaN: true }), (prefix, badLoss) => {
        const before = run(prefix)
        // From here on UDP stays bad: every report on it and every probe of it.
        let state = before.state
        let at = before.at
        let returned = false
        let leftAt: number | undefined = state.onUdp ? undefined : at
        for (let i = 0; i < 300; i++) {
          at += 1_000
          const r = Policy.step(options, state, { _tag: "Report", at, loss: badLoss })
          state = r.state
          if (r.decision._tag === "Leave") leftAt ??= at
          if (Policy.probeDue(options, state, at)) {
            const p = Policy.step(options, state, { _tag: "Probe", at, loss: badLoss })
            state = p.state
            if (p.decision._tag === "Return") returned = true
          }
        }
        expect(returned).toBe(false)
        expect(state.onUdp).toBe(false)
        expect(leftAt! - before.at).toBeLessThanOrEqual(options.badReports * 1_000)
      }),
      { numRuns: 200 },
    )
  })

  it("comes back to UDP once probes are good, after returnAfterMs — and not before", () => {
    let state = Policy.initial(options, 0)
    for (let at = 1_000; at <= 3_000; at += 1_000) state = Policy.step(options, state, { _tag: "Report", at, loss: 0.5 }).state
    expect(state.onUdp).toBe(false)
    const returns: Array<number> = []
    for (let at = 4_000; at <= 30_000; at += 1_000) {
      if (!Policy.probeDue(options, state, at)) continue
      const out = Policy.step(options, state, { _tag: "Probe", at, loss: 0 })
      state = out.state
      if (out.decision._tag === "Return") returns.push(at)
    }
    expect(returns).toHaveLength(1)
    expect(returns[0]! - 3_000).toBeGreaterThanOrEqual(options.returnAfterMs)
    expect(returns[0]! - 3_000).toBeLessThanOrEqual(options.returnAfterMs + options.probeEveryMs)
  })
})
