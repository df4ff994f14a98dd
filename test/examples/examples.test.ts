/**
 * Every example in examples/ runs here, as its users would run it, and does
 * what its header says.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as PackMeetings from "../../examples/pack-meetings.js"
import * as TwoClients from "../../examples/two-clients.js"
import * as WavAudio from "../../examples/wav-audio.js"
import * as ZoneScorer from "../../examples/zone-scorer.js"

describe("examples", () => {
  it.live("two-clients: one meeting in one process, each client receives the other's media", () =>
    Effect.gen(function* () {
      const [ada, grace] = yield* TwoClients.program
      for (const r of [ada, grace]) {
        expect(r.path).toBe("direct")
        expect(r.media?.map((m) => m.kind)).toEqual(["audio", "video"])
        for (const m of r.media!) expect(m.received, `${m.kind}`).toBeGreaterThan(20)
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

  it.live("zone-scorer: a residency policy keeps clients in the zones it allows, whatever the probes say", () =>
    Effect.gen(function* () {
      expect((yield* ZoneScorer.zoneTaken(ZoneScorer.residency("us-"))).zone).toBe("us-east")
      expect((yield* ZoneScorer.zoneTaken(ZoneScorer.residency("eu-"))).zone).toBe("eu-west")
    }),
  )

  it.live("wav-audio: a WAV file's audio goes through the MMR as RTP and comes out the same", () =>
    Effect.gen(function* () {
      const input = WavAudio.tone(1, 440, 8000)
      // Through a file, as the example's users do.
      const parsed = WavAudio.parseWav(WavAudio.wavFile(input))
      expect(parsed.samples.equals(input.samples)).toBe(true)
      const output = yield* WavAudio.playThrough(parsed)
      expect(output.sampleRate).toBe(8000)
      expect(output.samples.length).toBe(input.samples.length)
      // Loopback UDP: every 20 ms packet arrives; samples are bit-exact.
      expect(output.samples.equals(input.samples)).toBe(true)
    }),
  )
})
