/**
 * Participants who left without a word (a closed laptop, a killed tab, a
 * crashed client): an MMR forgets a participant it has not heard from on
 * control for `ttl` and who has no media connection open. Live sessions ask
 * their MMR a liveness question every quarter second, and their media keeps
 * its bindings open, so only the vanished go; a meeting keeps no ghosts, and
 * a stopping MMR does not wait its whole grace for them.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, Schedule } from "effect"

/** @category models */
export class ParticipantExpiry {
  private readonly seen = new Map<string, number>()
  constructor(private readonly ttlMs: number) {}

  /** Heard from `participant` of `meeting` at `now` (a Join, a liveness question). */
  touch(meeting: string, participant: string, now: number): void {
    this.seen.set(`${meeting}/${participant}`, now)
  }

  forget(meeting: string, participant: string): void {
    this.seen.delete(`${meeting}/${participant}`)
  }

  /** Of the participants present, those silent on control past the TTL with no media connection open. */
  expired(
    now: number,
    present: Iterable<readonly [meeting: string, participant: string]>,
    hasMedia: (meeting: string, participant: string) => boolean,
  ): Array<readonly [string, string]> {
    const out: Array<readonly [string, string]> = []
    for (const [meeting, participant] of present) {
      const at = this.seen.get(`${meeting}/${participant}`)
      if (at === undefined) this.touch(meeting, participant, now) // first seen now: its TTL starts here
      else if (now - at > this.ttlMs && !hasMedia(meeting, participant)) out.push([meeting, participant])
    }
    return out
  }
}

/**
 * Every second, for the life of the scope: each participant of `present()`
 * that has expired is logged and made to leave; `onExpired` counts them.
 *
 * @category sweeping
 */
export const sweep = (deps: {
  readonly name: string
  readonly ttl: Duration.DurationInput
  readonly expiry: ParticipantExpiry
  readonly present: () => Iterable<readonly [meeting: string, participant: string]>
  readonly hasMedia: (meeting: string, participant: string) => boolean
  readonly leave: (meeting: string, participant: string) => Effect.Effect<void>
  readonly onExpired: () => void
}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    for (const [meeting, participant] of deps.expiry.expired(now, deps.present(), deps.hasMedia)) {
      deps.onExpired()
      yield* Effect.logWarning(`${deps.name}: ${participant} of meeting ${meeting} has not been heard from in ${Duration.format(deps.ttl)}: gone`)
      yield* deps.leave(meeting, participant)
    }
  }).pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.asVoid, Effect.forkScoped, Effect.asVoid)
