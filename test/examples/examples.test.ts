/**
 * Every example in examples/ runs here, as its users would run it, and does
 * what its header says.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as PackMeetings from "../../examples/pack-meetings.js"
import * as TwoClients from "../../examples/two-clients.js"

describe("examples", () => {
  it.live("two-clients: one meeting in one process, each client receives the other's media", () =>
    Effect.gen(function* () {
      const [ada, grace] = yield* TwoClients.program
      for (const r of [ada, grace]) {
        expect(r.path).toBe("direct")
        for (const m of r.media ?? []) expect(m.received, `${m.kind}`).toBeGreaterThan(20)
      }
      expect(grace.mmr).toBe(ada.mmr)
    }),
  )

  it.live("pack-meetings: replacing the MMR selector changes where meetings land, with no change to the library", () =>
    Effect.gen(function* () {
      const spread = yield* PackMeetings.placements(undefined)
      const packed = yield* PackMeetings.placements(PackMeetings.packing)
      expect(new Set(spread).size).toBe(2) // the default spreads meetings over both MMRs
      expect(new Set(packed).size).toBe(1) // the team's policy packs them onto one
    }),
  )
})
