import { describe, expect, it } from "@effect/vitest"
import { distanceKm, rankZones } from "../../src/actors/web-lookup/ranking.js"
import type { MmrLoad } from "../../src/protocol/zone.js"

const dublin = { lat: 53.35, lon: -6.26 }
const virginia = { lat: 38.9, lon: -77.04 }
const singapore = { lat: 1.35, lon: 103.82 }

const mmr = (over: Partial<MmrLoad> = {}): MmrLoad => ({
  mmr: "m",
  zone: "z",
  subject: "s",
  meetings: 0,
  participants: 0,
  capacity: 10,
  cpu: 0,
  packetsPerSecond: 0,
  draining: false,
  at: 0,
  ...over,
})
const zone = (id: string, location: { lat: number; lon: number }, over: { liveControllers?: number; mmrs?: ReadonlyArray<MmrLoad> } = {}) => ({
  id,
  location,
  liveControllers: over.liveControllers ?? 2,
  mmrs: over.mmrs ?? [mmr()],
})

describe("zone ranking", () => {
  it("measures great-circle distance (Dublin–Virginia ≈ 5,460 km)", () => {
    expect(distanceKm(dublin, virginia)).toBeGreaterThan(5400)
    expect(distanceKm(dublin, virginia)).toBeLessThan(5520)
    expect(distanceKm(dublin, dublin)).toBe(0)
  })

  it("puts the nearest zone first", () => {
    const london = { lat: 51.51, lon: -0.13 }
    const ranked = rankZones([zone("us", virginia), zone("sg", singapore), zone("eu", dublin)], london)
    expect(ranked.map((r) => r.zone.id)).toEqual(["eu", "us", "sg"])
    expect(ranked[0]!.distanceKm).toBeLessThan(500)
  })

  it("keeps the operator's order when the client could not be located", () => {
    const ranked = rankZones([zone("us", virginia), zone("eu", dublin)], undefined)
    expect(ranked.map((r) => [r.zone.id, r.distanceKm])).toEqual([["us", undefined], ["eu", undefined]])
  })

  it("drops zones without a live controller or without an MMR with room", () => {
    const ranked = rankZones(
      [
        zone("no-controllers", dublin, { liveControllers: 0 }),
        zone("all-draining", dublin, { mmrs: [mmr({ draining: true })] }),
        zone("all-full", dublin, { mmrs: [mmr({ participants: 10 })] }),
        zone("no-mmrs", dublin, { mmrs: [] }),
        zone("one-with-room", virginia, { mmrs: [mmr({ participants: 10 }), mmr({ participants: 9 })] }),
      ],
      dublin,
    )
    expect(ranked.map((r) => r.zone.id)).toEqual(["one-with-room"])
  })
})
