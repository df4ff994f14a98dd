/**
 * The join report's failure reasons are sentences: whatever a failed attempt
 * failed with (an Error, a tagged error, a plain object), never
 * "[object Object]".
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect } from "effect"
import * as Report from "../../src/actors/client/report.js"

class Unreachable extends Data.TaggedError("Unreachable")<{ readonly elapsedMs: number }> {
  override get message() {
    return `no zone controller answered within ${this.elapsedMs} ms`
  }
}

describe("join report", () => {
  it.effect("says what each failed attempt failed with, in words", () =>
    Effect.gen(function* () {
      const recorder = yield* Report.make("1234567890")
      const failures: ReadonlyArray<unknown> = [
        new Unreachable({ elapsedMs: 5500 }),
        { _tag: "Refused", detail: "the MMR is full" },
        { _tag: "Odd", scores: [1, 2] },
        new Error("socket hang up"),
        "plain text",
      ]
      yield* recorder
        .phase("zone-selection", (phase) => Effect.forEach(failures, (f, i) => phase.attempt(`t${i}`, "probe", Effect.fail(f)).pipe(Effect.ignore)))
        .pipe(Effect.ignore)
      const details = (yield* recorder.report).phases[0]!.attempts.map((a) => a.detail)
      expect(details).toEqual([
        "Unreachable: no zone controller answered within 5500 ms",
        "Refused: the MMR is full",
        'Odd: {"_tag":"Odd","scores":[1,2]}',
        "socket hang up",
        "plain text",
      ])
      for (const d of details) expect(d).not.toContain("[object Object]")
    }),
  )
})
