/**
 * The session a connected path hands back, for as long as its scope lasts:
 * it follows the meeting's events (others joining and leaving, its MMR
 * leaving), moves to another MMR when its own leaves, and reports.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Clock, Effect, Either, Option, PubSub, Queue, Schedule, Schema, Stream } from "effect"
import type { JoinReport } from "../../protocol/join-report.js"
import type { Joined, Participant } from "../../protocol/mmr.js"
import { MediaStats, Roster, RosterEvent } from "../../protocol/mmr.js"
import type { MediaKind } from "../../protocol/media.js"
import { mediaKinds } from "../../protocol/media.js"
import { E2eEvent } from "../../protocol/e2e.js"
import { MediaKeyEvent } from "../../protocol/media-keys.js"
import type { JoinInfo } from "../../protocol/web-api.js"
import { ask } from "../../runtime/Ask.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { MediaCrypto } from "./media-crypto.js"
import type * as MediaSession from "./media-session.js"
import type { Connected, JoinContext } from "./path.js"
import * as MmrLiveness from "./mmr-liveness.js"
import * as Report from "./report.js"

/** @category models */
export interface JoinSession {
  /** How the join went: phases, attempts, what was chosen. */
  readonly report: JoinReport
  /** What the web lookup said (zones, tunnels, the join token). */
  readonly info: JoinInfo
  /** The MMR's answer to the join (roster, media endpoints). */
  readonly joined: Joined
  /** Where the session joined; after a move, `finalReport` and `events` tell where it is now. */
  readonly zone: string
  readonly mmr: string
  /** The control bus the session talks to its MMR over. */
  readonly bus: ControlBusShape
  /** The media connections, when media was asked for. */
  readonly media: MediaSession.MediaSession | undefined
  /** The meeting's media keys as this session holds them, when its media is encrypted. */
  readonly encryption: MediaCrypto | undefined
  /** The report with each media kind's figures as they stand now. */
  readonly finalReport: Effect.Effect<JoinReport>
  /** The SSRC this session sends each kind with. */
  readonly ssrcs: Readonly<Record<MediaKind, number>>
  /**
   * What happens to the session from the moment this Stream is run: others
   * joining and leaving, and moves to another MMR (when its MMR stops).
   */
  readonly events: Stream.Stream<SessionEvent>
  /** Who sends `ssrc`, by every roster the session has seen (also someone who has since left). */
  readonly senderOf: (ssrc: number) => string | undefined
}

/** Something that happened to a joined session. @category models */
export type SessionEvent =
  | { readonly _tag: "ParticipantJoined"; readonly participant: Participant }
  | { readonly _tag: "ParticipantLeft"; readonly participant: Participant }
  | { readonly _tag: "Moved"; readonly from: string; readonly to: string; readonly ms: number }
  | { readonly _tag: "MoveFailed"; readonly from: string; readonly detail: string }


const decodeMeetingEvent = Schema.decodeUnknownOption(Schema.parseJson(Schema.Union(RosterEvent, MediaKeyEvent, E2eEvent)))

/** Why a session moves: its MMR said it is leaving, stopped answering (crash, frozen), or answers control but not media (mute). */
type MoveReason = "leaving" | MmrLiveness.Verdict | "mute"

const describe: Record<MoveReason, string> = {
  leaving: "is leaving",
  crash: "is gone (nobody answers)",
  frozen: "does not answer",
  mute: "answers control but not media (mute)",
}

/**
 * The session a connected path hands back. It follows the meeting's events:
 * when its MMR says it is leaving, the session joins the meeting again on
 * another MMR and moves its media there (each move is in the final report).
 */
export const session = (ctx: JoinContext, connected: Connected): Effect.Effect<JoinSession, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { current, media } = connected
    const muteMs = ctx.options.media?.muteMs ?? 1000
    // The join ends here: its report's total is the join time, whatever media does later.
    const report = yield* ctx.recorder.report
    const joinedAt = report.totalMs
    const nowMs = Effect.map(Clock.currentTimeNanos, (ns) => Number(ns) / 1e6)
    const started = (yield* nowMs) - joinedAt
    const sinceStart = Effect.map(nowMs, (now) => now - started)
    const moves: Array<NonNullable<JoinReport["moves"]>[number]> = []
    const events = yield* PubSub.sliding<SessionEvent>(256)
    // Everyone seen in a roster, by SSRC: what arrived from someone who has since left still carries their name.
    const senders = new Map<number, string>()
    const remember = (roster: ReadonlyArray<Participant>) => {
      for (const p of roster) for (const kind of mediaKinds) if (p.ssrcs?.[kind] !== undefined) senders.set(p.ssrcs[kind]! >>> 0, p.name)
    }
    remember(current.joined.roster)
    const subject = ctx.info.meetingEvents
    if (subject !== undefined) {
      // Socket callbacks only enqueue (a sliding queue never suspends them); fibers of the session's scope do the rest.
      const inbox = yield* Queue.sliding<Uint8Array>(256)
      // MMRs to move off, and why: it said it is leaving, or it stopped answering.
      const leaving = yield* Queue.sliding<{ readonly mmr: string; readonly reason: MoveReason }>(16)
      // Who is in the meeting as far as this session knows (itself left out).
      let known = new Map(current.joined.roster.filter((p) => p.id !== ctx.info.participant.id).map((p) => [p.id, p]))
      const rosterChanged = (roster: ReadonlyArray<Participant>) => {
        remember(roster)
        const now = new Map(roster.filter((p) => p.id !== ctx.info.participant.id).map((p) => [p.id, p]))
        const changes: Array<SessionEvent> = []
        for (const [id, p] of now) if (!known.has(id)) changes.push({ _tag: "ParticipantJoined", participant: p })
        for (const [id, p] of known) if (!now.has(id)) changes.push({ _tag: "ParticipantLeft", participant: p })
        known = now
        return PubSub.publishAll(events, changes)
      }
      // The first key (end-to-end, leading) or the wait for one starts from the roster the join was answered with:
      // queued before anything heard, so that a key that follows it is judged against it.
      yield* Queue.offer(inbox, new TextEncoder().encode(JSON.stringify({ meeting: ctx.options.meeting, mmr: current.placement.mmr, roster: current.joined.roster })))
      yield* connected.listen(subject, (data) => void Queue.unsafeOffer(inbox, data))
      const onEvent = (data: Uint8Array) =>
        Option.match(decodeMeetingEvent(new TextDecoder().decode(data)), {
          onNone: () => Effect.logDebug(`undecodable event on ${subject} dropped`),
          onSome: (event) =>
            "type" in event
              ? event.type === "e2e"
                ? (connected.agreement?.onEvent(event) ?? Effect.void)
                : Effect.sync(() => connected.crypto?.onEvent(event))
              : event.leaving === true
              ? Queue.offer(leaving, { mmr: event.mmr, reason: "leaving" })
              : // Rosters from the MMR the session is on; during a move, the one it is moving to will follow.
                event.mmr === current.placement.mmr
                ? Effect.zipRight(rosterChanged(event.roster), connected.agreement?.onRoster(event.roster) ?? Effect.void)
                : Effect.void,
        })
      yield* Queue.take(inbox).pipe(Effect.flatMap(onEvent), Effect.forever, Effect.forkScoped)
      let moving = false
      // After the controllers kept the meeting on an MMR this session finds mute: not before then again.
      let muteQuietUntil = 0
      let muteBackoffMs = muteMs * 2
      let muteUnconfirmedSaid = false
      let controlAnsweredAt = performance.now()
      const livenessIntervalMs = (ctx.options.liveness !== false ? ctx.options.liveness?.intervalMs : undefined) ?? 250
      const moveOnce = (from: string, reason: MoveReason) =>
        Effect.gen(function* () {
          moving = true
          yield* Effect.logWarning(`${from} ${describe[reason]}: moving`)
          const at = yield* sinceStart
          const recorder = yield* Report.make(ctx.options.meeting)
          const outcome = yield* connected.move(recorder, reason === "mute" ? "mute" : reason === "leaving" ? "leaving" : "silent").pipe(
            // The controllers may not have heard yet that the MMR is leaving, or (mute) the
            // others' reports may be a moment behind this one: ask again shortly.
            Effect.retry(
              reason === "mute"
                ? Schedule.spaced("300 millis").pipe(Schedule.intersect(Schedule.recurs(3)))
                : // Frozen: the controllers call it so once its load reports are stale too, within about 3 s.
                  Schedule.spaced("200 millis").pipe(Schedule.intersect(Schedule.recurs(15))),
            ),
            Effect.either,
            Effect.ensuring(Effect.sync(() => void (moving = false))),
          )
          const ms = Math.round(((yield* sinceStart) - at) * 100) / 100
          if (Either.isLeft(outcome) && outcome.left.kept === true) {
            // Not a failed move: the controllers checked and found the MMR well (it answers them; for
            // mute: one voice, its media port answering). The session stays; its checks go on.
            if (reason === "mute") {
              muteQuietUntil = performance.now() + muteBackoffMs
              muteBackoffMs = Math.min(muteBackoffMs * 2, 30_000)
            }
            yield* Effect.logWarning(`${from} ${describe[reason]} here, but the controllers keep the meeting there: ${outcome.left.reason}`)
            if (!muteUnconfirmedSaid) moves.push({ from, atMs: Math.round(at), ms, outcome: "unconfirmed", reason, detail: outcome.left.reason })
            muteUnconfirmedSaid = true
            return
          }
          muteUnconfirmedSaid = false
          muteQuietUntil = 0
          if (Either.isRight(outcome)) {
            moves.push({ from, to: current.placement.mmr, atMs: Math.round(at), ms, outcome: "ok", reason })
            yield* PubSub.publish(events, { _tag: "Moved", from, to: current.placement.mmr, ms })
            yield* Effect.logInfo(`moved from ${from} to ${current.placement.mmr} in ${ms} ms`)
          } else {
            moves.push({ from, atMs: Math.round(at), ms, outcome: "failed", reason, detail: outcome.left.reason })
            yield* PubSub.publish(events, { _tag: "MoveFailed", from, detail: outcome.left.reason })
            yield* Effect.logWarning(`could not move from ${from}: ${outcome.left.reason}`)
          }
        })
      // Evidence the session gathers itself: its MMR answering a cheap question, every quarter second.
      if (ctx.options.liveness !== false) {
        yield* MmrLiveness.watch(
          (timeout) =>
            // MediaStats: a constant-size answer, whatever the size of the meeting (a roster grows with it).
            ask(
              current.placement.subject,
              new MediaStats({ meeting: ctx.options.meeting, participant: ctx.info.participant.id, token: ctx.info.joinToken }),
              { timeout },
            ).pipe(
              Effect.provideService(ControlBus, current.bus),
            ),
          (reason) => Queue.offer(leaving, { mmr: current.placement.mmr, reason }),
          () => moving,
          ctx.options.liveness ?? {},
          () => void (controlAnsweredAt = performance.now()),
        ).pipe(Effect.forkScoped)
      }
      // Evidence from media: consent checks unanswered on every kind while control still answers.
      if (media !== undefined && ctx.options.liveness !== false) {
        const checkMute = Effect.suspend(() => {
          const mutedFor = media.mutedMs()
          if (mutedFor === undefined || mutedFor < muteMs) {
            muteBackoffMs = muteMs * 2
            return Effect.void
          }
          const now = performance.now()
          if (moving || now < muteQuietUntil) return Effect.void
          // Mute means control answers and media does not; with control silent too, the liveness check decides (crash, frozen).
          if (now - controlAnsweredAt > 2 * livenessIntervalMs + 100) return Effect.void
          muteQuietUntil = Infinity // until this report is settled
          return Queue.offer(leaving, { mmr: current.placement.mmr, reason: "mute" })
        })
        yield* checkMute.pipe(Effect.repeat(Schedule.spaced(Math.min(250, muteMs / 2))), Effect.forkScoped)
      }
      yield* Queue.take(leaving).pipe(
        Effect.flatMap(({ mmr, reason }) =>
          mmr === current.placement.mmr ? moveOnce(mmr, reason) : Effect.sync(() => void (reason === "mute" && (muteQuietUntil = 0))),
        ),
        Effect.forever,
        Effect.forkScoped,
      )
    }
    const finalReport = Effect.gen(function* () {
      const now = { ...report, zone: current.placement.zone, mmr: current.placement.mmr, ...(moves.length > 0 ? { moves: [...moves] } : {}) }
      if (media === undefined) return now
      const roster = yield* ask(current.placement.subject, new Roster({ meeting: ctx.options.meeting, token: ctx.info.joinToken }), { timeout: "1 second" }).pipe(
        Effect.provideService(ControlBus, current.bus),
        Effect.orElseSucceed(() => []),
      )
      remember(current.joined.roster)
      remember(roster)
      return { ...now, media: media.report((ssrc) => senders.get(ssrc)) }
    })
    return {
      report,
      info: ctx.info,
      joined: current.joined,
      zone: current.placement.zone,
      mmr: current.placement.mmr,
      bus: current.bus,
      media,
      encryption: connected.crypto,
      finalReport,
      ssrcs: ctx.ssrcs,
      events: Stream.fromPubSub(events),
      senderOf: (ssrc) => senders.get(ssrc >>> 0),
    } satisfies JoinSession
  })

