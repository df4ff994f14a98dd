/**
 * Is the session's MMR still there? A cheap question on its control subject
 * every `intervalMs` (MediaStats, with the join token): nobody listening means
 * its process is gone (`crash`: NATS says so at once); `misses` questions in
 * a row without an answer mean it froze or was cut off (`frozen`). Either is
 * evidence for a move; the controllers check it again before they re-place.
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import type { AskError } from "../../protocol/errors.js"

/** @category models */
export interface LivenessOptions {
  /** Between questions; each waits twice this for its answer. Default 250 ms. */
  readonly intervalMs?: number
  /** Unanswered questions in a row that make the MMR frozen. Default 2. */
  readonly misses?: number
}

/** Why the session leaves its MMR without being asked to. @category models */
export type Verdict = "crash" | "frozen"

/** What one question's outcome says, given the misses before it: the new count, and a verdict when there is one. @category deciding */
export const judge = (missesBefore: number, outcome: "answered" | "no-responders" | "timeout" | "other", misses: number): { readonly misses: number; readonly verdict?: Verdict } => {
  switch (outcome) {
    case "answered":
      return { misses: 0 }
    case "no-responders":
      return { misses: 0, verdict: "crash" }
    case "timeout":
      return missesBefore + 1 >= misses ? { misses: 0, verdict: "frozen" } : { misses: missesBefore + 1 }
    case "other":
      // A refusal or a broken bus says nothing about the MMR.
      return { misses: missesBefore }
  }
}

/**
 * Asks with `question` (timed out at twice the interval) forever, calling
 * `dead` with each verdict; `paused` skips a turn (a move in progress).
 *
 * @category watching
 */
export const watch = (
  question: (timeout: Duration.Duration) => Effect.Effect<unknown, AskError | { readonly _tag: string }>,
  dead: (verdict: Verdict) => Effect.Effect<void>,
  paused: () => boolean,
  options: LivenessOptions = {},
  /** Called on each answer: the MMR's control is alive now. */
  answered: () => void = () => {},
): Effect.Effect<never> => {
  const interval = Duration.millis(options.intervalMs ?? 250)
  const misses = options.misses ?? 2
  let count = 0
  const turn = Effect.suspend(() =>
    paused()
      ? Effect.sync(() => void (count = 0))
      : question(Duration.times(interval, 2)).pipe(
          Effect.as("answered" as const),
          Effect.catchAll((e) => Effect.succeed(e._tag === "NoResponders" ? ("no-responders" as const) : e._tag === "RequestTimeout" ? ("timeout" as const) : ("other" as const))),
          Effect.flatMap((outcome) => {
            if (outcome === "answered") answered()
            const next = judge(count, outcome, misses)
            count = next.misses
            return next.verdict === undefined ? Effect.void : dead(next.verdict)
          }),
        ),
  )
  return Effect.zipRight(Effect.sleep(interval), turn).pipe(Effect.forever)
}
