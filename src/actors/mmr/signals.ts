/**
 * End-to-end key signals through the MMR: what a participant of an
 * end-to-end meeting sends the others (protocol/e2e.ts) is published on the
 * meeting's events with `from` set from the sender's join token — the MMR
 * vouches for who sent it, and cannot read it (each key is wrapped for its
 * recipient). Only from a participant it hosts, with the session its Join
 * bound, and bounded: 20 a second per participant, 40 at once, so one
 * client cannot flood a meeting.
 *
 *   Signal → token verified, for this meeting → session held → hosted here → under the rate → published
 *
 * @since 0.3.0
 */
import { Clock, Effect } from "effect"
import type { E2eEvent, E2eSignal } from "../../protocol/e2e.js"
import { SessionTaken, SignalRefused } from "../../protocol/mmr.js"
import type { JoinTokensShape } from "../../protocol/token.js"
import { InvalidToken } from "../../protocol/token.js"
import * as RateLimit from "../../runtime/RateLimit.js"

/** What the MMR lends the relay of signals. @category models */
export interface SignalDeps {
  readonly tokens: JoinTokensShape
  readonly holdsSession: (meeting: string, participant: string, secret: string) => boolean
  readonly hosts: (meeting: string, participant: string) => boolean
  readonly publish: (event: E2eEvent) => Effect.Effect<void>
}

/**
 * The Signal request's behaviour.
 *
 * @category constructors
 */
export const relay = (deps: SignalDeps) => {
  const limiter = RateLimit.make({ perMinute: 20 * 60, burst: 40 })
  return (meeting: string, token: string, session: string, signal: E2eSignal): Effect.Effect<void, InvalidToken | SessionTaken | SignalRefused> =>
    Effect.gen(function* () {
      const { participant, meeting: claimed } = yield* deps.tokens.verify(token)
      if (claimed !== meeting) return yield* new InvalidToken({ reason: `the token is for meeting ${claimed}, not ${meeting}`, kind: "mismatch" })
      if (!deps.holdsSession(meeting, participant, session)) return yield* new SessionTaken({ meeting, participant })
      if (!deps.hosts(meeting, participant)) return yield* new SignalRefused({ reason: "not-here" })
      if (!limiter.take(`${meeting}/${participant}`, yield* Clock.currentTimeMillis).ok) return yield* new SignalRefused({ reason: "too-many" })
      yield* deps.publish({ type: "e2e", meeting, from: participant, signal })
    })
}
