/**
 * Phase 3, MMR selection: Assign in the chosen zone (then the next best)
 * for the MMR that hosts the meeting, then Join it with the join token. A
 * placement that moved under us (its MMR died) is asked once more.
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect, Either, Schedule } from "effect"
import { Assign } from "../../protocol/controller.js"
import type { AskError } from "../../protocol/errors.js"
import type { Joined } from "../../protocol/mmr.js"
import { Join } from "../../protocol/mmr.js"
import type { Ssrcs } from "../../protocol/media.js"
import type { Placement } from "../../protocol/meeting.js"
import type { ZoneInfo } from "../../protocol/web-api.js"
import { ask } from "../../runtime/Ask.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { PhaseRecorder } from "./report.js"

/**
 * Why no MMR took the session: the token was refused, none was available, or
 * (moving off a mute MMR) the controllers kept the meeting where it is.
 *
 * @category errors
 */
export class MmrProblem extends Data.TaggedError("MmrProblem")<{
  readonly kind: "denied" | "unavailable" | "kept"
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * The MMR a move leaves, and why: it said it is leaving (the controllers
 * re-place on their own; they may just not have heard yet), or the session
 * found it silent or mute (the controllers check; if they keep the meeting
 * there, that is their answer).
 *
 * @category models
 */
export interface Avoid {
  readonly mmr: string
  readonly evidence: "leaving" | "silent" | "mute"
}

/** Where a session landed: the placement, the MMR's answer, the bus that reaches it. @category models */
export interface Selected {
  readonly placement: Placement
  readonly joined: Joined
  readonly bus: ControlBusShape
}

const transient = Schedule.recurs(1).pipe(Schedule.addDelay(() => "50 millis"))

/**
 * Places and joins the meeting in the first of `zones` (at most three) that
 * takes it.
 *
 * @category selection
 */
export const selectMmr = (
  zones: ReadonlyArray<ZoneInfo>,
  busOf: (zone: ZoneInfo) => ControlBusShape | undefined,
  meeting: string,
  token: string,
  /** The session secret this join binds itself to at the MMR. */
  session: string,
  /** What the join declares: its SSRCs, and (end-to-end meetings) its key share. */
  declared: { readonly ssrcs: Ssrcs; readonly keyShare?: string | undefined },
  timeout: Duration.DurationInput,
  phase: PhaseRecorder,
  /**
   * An MMR not to join (it is leaving, silent or mute), and the session's
   * evidence against it: a placement still naming it is a problem, not an answer.
   */
  avoid?: Avoid,
): Effect.Effect<Selected, MmrProblem> =>
  Effect.gen(function* () {
    let lastProblem = "no zone answered"
    for (const zone of zones.slice(0, 3)) {
      const bus = busOf(zone)!
      const onBus = <A, E>(effect: Effect.Effect<A, E, ControlBus>) => Effect.provideService(effect, ControlBus, bus)
      // A placement can move under us (its MMR died), or name an MMR that just died and this
      // controller has not noticed yet: one more Assign, naming it, settles either.
      let suspect = avoid
      for (let turn = 0; turn < 2; turn++) {
        const named = suspect !== undefined ? { suspect: suspect.mmr, evidence: suspect.evidence === "mute" ? ("mute" as const) : ("silent" as const) } : {}
        const placement = yield* phase
          .attempt(zone.assignSubject, `assign in ${zone.id}`, onBus(ask(zone.assignSubject, new Assign({ meeting, token, ...named }), { timeout, retry: transient })))
          .pipe(Effect.either)
        if (Either.isLeft(placement)) {
          const e = placement.left
          if (e._tag === "InvalidToken") return yield* Effect.fail(new MmrProblem({ kind: "denied", detail: e.message }))
          lastProblem = `${zone.id}: ${e.message}`
          break
        }
        const { subject, mmr } = placement.right
        if (mmr === suspect?.mmr) {
          // The controllers weighed the evidence and kept the meeting there.
          if (suspect === avoid && avoid.evidence !== "leaving") {
            return yield* Effect.fail(new MmrProblem({ kind: "kept", detail: `${zone.id} checked ${mmr} and keeps the meeting there` }))
          }
          lastProblem = `${zone.id}: the meeting is still placed on ${mmr}, which is ${suspect.evidence === "leaving" ? "leaving" : "silent"}`
          break
        }
        const joined = yield* phase
          .attempt(mmr, `join ${mmr}`, onBus(ask(subject, new Join({ token, session, ssrcs: declared.ssrcs, ...(declared.keyShare !== undefined ? { keyShare: declared.keyShare } : {}) }), { timeout, retry: transient })))
          .pipe(Effect.either)
        if (Either.isRight(joined)) return { placement: placement.right, joined: joined.right, bus }
        const e: AskError | { _tag: string; message: string } = joined.left
        if (e._tag === "InvalidToken" || e._tag === "SessionTaken") return yield* Effect.fail(new MmrProblem({ kind: "denied", detail: e.message }))
        lastProblem = `${mmr}: ${e.message}`
        if (e._tag === "NoResponders") suspect = { mmr, evidence: "silent" }
        else if (e._tag !== "NotHostedHere") break
      }
    }
    return yield* Effect.fail(new MmrProblem({ kind: "unavailable", detail: lastProblem }))
  })
