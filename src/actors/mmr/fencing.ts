/**
 * Fencing: an MMR serves a meeting only while it can confirm the meeting is
 * placed on it. The placement (written by the controllers with
 * compare-and-set) is the fencing token: each round the MMR reads the
 * placement of every meeting it serves, and stops serving one at once when
 * it names another MMR (it was frozen or cut off while the meeting moved),
 * or when it cannot read it for longer than `ttl` (cut off from NATS: it can
 * confirm nothing). A meeting is therefore served by two MMRs for at most one
 * round after the first one can read again, or `ttl` plus one round when it
 * cannot.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Clock, Duration as D, Effect, Option } from "effect"

/** Why a meeting stopped being served here. @category models */
export type Fenced = "placed-elsewhere" | "unconfirmed"

/** @category models */
export interface FencingOptions {
  /** This MMR. */
  readonly self: string
  /** The meetings it serves now. */
  readonly meetings: () => ReadonlyArray<string>
  /** The MMR a meeting's placement names, none when it has no placement; fails when the store cannot be read. */
  readonly placementOf: (meeting: string) => Effect.Effect<Option.Option<string>, { readonly message: string }>
  /** Stops serving `meeting`. */
  readonly fence: (meeting: string, why: Fenced) => Effect.Effect<void>
  readonly interval: Duration.DurationInput
  /** How long a meeting may go unconfirmed. */
  readonly ttl: Duration.DurationInput
}

/**
 * Runs the rounds forever (fork it in the MMR's scope).
 *
 * @category fencing
 */
export const run = (options: FencingOptions): Effect.Effect<never> =>
  Effect.gen(function* () {
    const ttlMs = D.toMillis(D.decode(options.ttl))
    const confirmedAt = new Map<string, number>()
    const round = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const serving = options.meetings()
      for (const m of [...confirmedAt.keys()]) if (!serving.includes(m)) confirmedAt.delete(m)
      yield* Effect.forEach(
        serving,
        (meeting) =>
          options.placementOf(meeting).pipe(
            Effect.matchEffect({
              onSuccess: (mmr) =>
                Option.isSome(mmr) && mmr.value === options.self
                  ? Effect.sync(() => void confirmedAt.set(meeting, now))
                  : Effect.zipRight(Effect.sync(() => void confirmedAt.delete(meeting)), options.fence(meeting, "placed-elsewhere")),
              onFailure: () => {
                const since = confirmedAt.get(meeting)
                if (since === undefined) return Effect.sync(() => void confirmedAt.set(meeting, now)) // first round: from now
                return now - since > ttlMs
                  ? Effect.zipRight(Effect.sync(() => void confirmedAt.delete(meeting)), options.fence(meeting, "unconfirmed"))
                  : Effect.void
              },
            }),
          ),
        { concurrency: 8, discard: true },
      )
    })
    return yield* Effect.zipRight(Effect.sleep(options.interval), round).pipe(Effect.forever)
  })
