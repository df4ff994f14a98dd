/** The default MMR selector over arbitrary loads. */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc, Option } from "effect"
import type { MmrCandidate } from "../../src/actors/zone-controller/selector.js"
import { expectedParticipants, hasHeadroom, leastLoaded } from "../../src/actors/zone-controller/selector.js"

const candidateArb = fc
  .record({
    capacity: fc.integer({ min: 1, max: 500 }),
    fill: fc.double({ min: 0, max: 1.2, noNaN: true }),
    pending: fc.integer({ min: 0, max: 20 }),
    cpu: fc.double({ min: 0, max: 2, noNaN: true }),
    draining: fc.boolean(),
    meetings: fc.integer({ min: 0, max: 50 }),
  })
  .map(
    (r, ): Omit<MmrCandidate, "load"> & { load: Omit<MmrCandidate["load"], "mmr"> } => ({
      pending: r.pending,
      load: {
        zone: "z",
        subject: "s",
        capacity: r.capacity,
        participants: Math.floor(r.capacity * r.fill),
        meetings: r.meetings,
        cpu: r.cpu,
        packetsPerSecond: 0,
        draining: r.draining,
        at: 0,
      },
    }),
  )
const candidatesArb = fc
  .array(candidateArb, { maxLength: 8 })
  .map((cs): ReadonlyArray<MmrCandidate> => cs.map((c, i) => ({ ...c, load: { ...c.load, mmr: `mmr-${i}` } })))

const utilisation = (c: MmrCandidate) => expectedParticipants(c) / c.load.capacity + 0.25 * Math.min(c.load.cpu, 1)

describe("least-loaded MMR selection", () => {
  it.prop("never picks a draining or full MMR, and picks one whenever any has room", [candidatesArb], ([candidates]) => {
    const chosen = leastLoaded.select(candidates, "m")
    expect(Option.isSome(chosen)).toBe(candidates.some(hasHeadroom))
    if (Option.isSome(chosen)) {
      expect(chosen.value.load.draining).toBe(false)
      expect(expectedParticipants(chosen.value)).toBeLessThan(chosen.value.load.capacity)
    }
  })

  it.prop("picks the least utilised MMR with room", [candidatesArb], ([candidates]) => {
    const chosen = leastLoaded.select(candidates, "m")
    fc.pre(Option.isSome(chosen))
    for (const c of candidates.filter(hasHeadroom)) expect(utilisation(Option.getOrThrow(chosen))).toBeLessThanOrEqual(utilisation(c))
  })

  it.prop("is deterministic: the order candidates arrive in does not matter", [candidatesArb], ([candidates]) => {
    const a = leastLoaded.select(candidates, "m")
    const b = leastLoaded.select([...candidates].reverse(), "m")
    expect(Option.map(a, (c) => c.load.mmr)).toEqual(Option.map(b, (c) => c.load.mmr))
  })
})
