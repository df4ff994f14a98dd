/**
 * Fencing: an MMR serves a meeting only while it can confirm the meeting is
 * placed on it. The placement (written by the controllers with
 * compare-and-set) is the fencing token. The MMR follows one watch of the
 * placements (not a read per meeting): a change that names another MMR for a
 * meeting it serves stops that meeting at once — it was frozen or cut off
 * while the meeting moved; a watch that is down for longer than `ttl` stops
 * every meeting it serves (it can confirm nothing). A new watch replays the
 * placements, so what changed while it was down is seen when it is back.
 *
 * A meeting is therefore served by two MMRs for no longer than the watch
 * takes to deliver the change once the old one runs again, or `ttl` plus one
 * check when it cannot watch.
 *
 * @since 0.1.0
 */
import type { Duration, Stream } from "effect"
import { Clock, Duration as D, Effect, Option, Schedule, Stream as S } from "effect"

/** Why a meeting stopped being served here. @category models */
export type Fenced = "placed-elsewhere" | "unconfirmed"

/** @category models */
export interface FencingOptions {
  /** This MMR. */
  readonly self: string
  /** The meetings it serves now. */
  readonly meetings: () => ReadonlyArray<string>
  /** A watch of the placements from the start: each meeting and the MMR its placement names (none: deleted). */
  readonly placements: () => Stream.Stream<{ readonly meeting: string; readonly mmr: Option.Option<string> }, unknown>
  /** Stops serving `meeting`. */
  readonly fence: (meeting: string, why: Fenced) => Effect.Effect<void>
  /** How long the watch may be down before nothing is confirmed. */
  readonly ttl: Duration.DurationInput
}

/**
 * Follows the placements for as long as the scope lasts (fork it).
 *
 * @category fencing
 */
export const run = (options: FencingOptions): Effect.Effect<never> =>
  Effect.gen(function* () {
    const ttlMs = D.toMillis(D.decode(options.ttl))
    /** Since when the watch has been down; undefined while it delivers. */
    let downSince: number | undefined
    const follow = options.placements().pipe(
      S.runForEach(({ meeting, mmr }) =>
        Effect.suspend(() => {
          downSince = undefined
          const elsewhere = Option.isNone(mmr) || mmr.value !== options.self
          return elsewhere && options.meetings().includes(meeting) ? options.fence(meeting, "placed-elsewhere") : Effect.void
        }),
      ),
    )
    const markDown = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => void (downSince ??= now)))
    // Nothing to confirm before it serves a meeting (and the placements may not exist yet: controllers make them).
    const serving = Effect.sleep("100 millis").pipe(Effect.repeat({ until: () => options.meetings().length > 0 }))
    // Watch again, with backoff, whenever the watch ends or fails.
    const watching = Effect.zipRight(serving, follow).pipe(
      Effect.catchAllCause(() => Effect.void),
      Effect.zipRight(markDown),
      Effect.repeat(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("2 seconds")))),
    )
    const checking = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (downSince === undefined || now - downSince <= ttlMs) return
      yield* Effect.forEach(options.meetings(), (meeting) => options.fence(meeting, "unconfirmed"), { discard: true })
    }).pipe(Effect.repeat(Schedule.spaced(D.millis(Math.max(50, ttlMs / 4)))))
    return yield* Effect.zipRight(Effect.all([watching, checking], { concurrency: 2, discard: true }), Effect.never)
  })
