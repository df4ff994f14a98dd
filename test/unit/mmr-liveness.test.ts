/**
 * Judging an MMR from the answers to the session's questions: nobody
 * listening is a crash at once; unanswered questions make it frozen only
 * after `misses` in a row; one answer clears the count; a refusal says
 * nothing about the MMR.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as MmrLiveness from "../../src/actors/client/mmr-liveness.js"

type Outcome = "answered" | "no-responders" | "timeout" | "other"

describe("MMR liveness", () => {
  it("calls a crash at the first no-responders, frozen at the second timeout in a row", () => {
    expect(MmrLiveness.judge(0, "no-responders", 2)).toEqual({ misses: 0, verdict: "crash" })
    expect(MmrLiveness.judge(0, "timeout", 2)).toEqual({ misses: 1 })
    expect(MmrLiveness.judge(1, "timeout", 2)).toEqual({ misses: 0, verdict: "frozen" })
    expect(MmrLiveness.judge(1, "answered", 2)).toEqual({ misses: 0 })
    expect(MmrLiveness.judge(1, "other", 2)).toEqual({ misses: 1 })
  })

  it.prop(
    "frozen exactly when `misses` timeouts come in a row with no answer between",
    [fc.array(fc.constantFrom<Outcome>("answered", "timeout", "other"), { maxLength: 40 }), fc.integer({ min: 1, max: 4 })],
    ([outcomes, misses]) => {
      let count = 0
      let run = 0
      for (const o of outcomes) {
        const next = MmrLiveness.judge(count, o, misses)
        if (o === "timeout") run++
        else if (o === "answered") run = 0
        expect(next.verdict === "frozen").toBe(o === "timeout" && run === misses)
        if (next.verdict === "frozen") run = 0
        count = next.misses
      }
    },
  )
})
