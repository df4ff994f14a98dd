/**
 * Weighing participants' word that an MMR is mute: pure logic, so
 * properties over arbitrary meetings and report sequences.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { MuteReports, decide, quorum } from "../../src/actors/zone-controller/mute-reports.js"

describe("mute reports", () => {
  it("a quorum is more than half of the meeting's participants on that MMR, and never less than one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (n) => {
        const q = quorum(n)
        expect(q).toBeGreaterThanOrEqual(1)
        expect(q * 2).toBeGreaterThan(Math.max(n, 1))
        expect((q - 1) * 2).toBeLessThanOrEqual(Math.max(n, 1))
      }),
    )
  })

  it("a minority's word moves nothing while the media port answers; a quorum, or a port that does not answer, moves the meeting", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 0, max: 500 }), fc.boolean(), (participants, reporters, mediaAnswered) => {
        const verdict = decide({ reporters, participants, mediaAnswered })
        if (!mediaAnswered) expect(verdict).toBe("mute")
        else expect(verdict).toBe(reporters * 2 > participants ? "mute" : "kept")
      }),
    )
    // The two-person meeting: one voice is not enough, both are.
    expect(decide({ reporters: 1, participants: 2, mediaAnswered: true })).toBe("kept")
    expect(decide({ reporters: 2, participants: 2, mediaAnswered: true })).toBe("mute")
  })

  it("counts each participant once, within the window only, per meeting and MMR", () => {
    const reports = new MuteReports(5000)
    expect(reports.add("m1", "mmr-1", "ada", 0)).toHaveLength(1)
    expect(reports.add("m1", "mmr-1", "ada", 100)).toHaveLength(1) // the same voice again
    expect(reports.add("m1", "mmr-2", "bob", 200)).toHaveLength(1) // another MMR
    expect(reports.add("m2", "mmr-1", "bob", 200)).toHaveLength(1) // another meeting
    expect(reports.add("m1", "mmr-1", "bob", 300)).toHaveLength(2)
    expect(reports.add("m1", "mmr-1", "cy", 5200)).toHaveLength(2) // ada's last word (100) is past the window
    reports.clear("m1", "mmr-1")
    expect(reports.add("m1", "mmr-1", "ada", 5300)).toHaveLength(1)
  })

  it("a flood of reports for ever new meetings keeps at most the bound", () => {
    const reports = new MuteReports(5000, 100)
    for (let i = 0; i < 10_000; i++) reports.add(`m${i}`, "mmr-1", "mallory", i)
    // The newest are kept, the oldest went first.
    expect(reports.add("m9999", "mmr-1", "bob", 10_001)).toHaveLength(2)
    expect(reports.add("m0", "mmr-1", "bob", 10_001)).toHaveLength(1)
    expect((reports as unknown as { byPair: Map<string, unknown> }).byPair.size).toBeLessThanOrEqual(100)
  })
})
