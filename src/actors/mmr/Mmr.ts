/**
 * The multimedia router (MMR), control side. It hosts meetings: a
 * participant joins with a join token, and the MMR admits them only if the
 * meeting's placement names this MMR (so a meeting moved elsewhere cannot
 * split) and it has room.
 *
 *   Join   → token checked, placement checked, room checked → Joined with the roster
 *   Leave  → the participant is gone (an empty meeting is forgotten)
 *   Roster → who is in a meeting (also published on every change)
 *   Drain  → no new meetings (existing ones go on); reported at once
 *   MediaStats, MediaCounters → what the media plane counted; MediaTokens → fresh media tokens
 *   Signal → an end-to-end key message, published on the meeting's events as its sender's (signals.ts)
 *   media: with a media plane, Join admits the participant to the SFU and
 *          hands out its media tokens; Leave closes its media connections
 *   every second → load report to the zone's controllers, and presence (TTL)
 *   on stop → leaving: controllers re-place its meetings, participants are
 *             told to re-join (roster event `leaving`), and get `drainGrace`
 *             to move; then a last report, and presence removed
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Clock, Deferred, Duration, Effect, Layer, Option, Stream } from "effect"
import type { BusError, KvError } from "../../protocol/errors.js"
import { E2eEvent } from "../../protocol/e2e.js"
import type { Participant } from "../../protocol/mmr.js"
import { MmrFull, MmrProtocol, NotHostedHere, RosterEvent, SessionTaken } from "../../protocol/mmr.js"
import type { Buckets, Subjects } from "../../protocol/subjects.js"
import { presenceKey } from "../../protocol/subjects.js"
import type { JoinClaims } from "../../protocol/token.js"
import { InvalidToken, JoinTokens } from "../../protocol/token.js"
import type { Ssrcs } from "../../protocol/media.js"
import { MmrLoad } from "../../protocol/zone.js"
import * as Actor from "../../runtime/Actor.js"
import * as Admin from "./admin.js"
import type { ControlBus } from "../../runtime/ControlBus.js"
import type { KeyValue } from "../../runtime/KeyValue.js"
import * as Topic from "../../runtime/Topic.js"
import * as Stores from "../stores.js"
import * as Fencing from "./fencing.js"
import { ParticipantExpiry, sweep } from "./participant-expiry.js"
import * as MediaPlane from "./media-plane.js"
import { Sessions } from "./sessions.js"
import * as Signals from "./signals.js"

/** MMR-wide media counters of one kind (for metrics). @category models */
export type { KindTotals } from "./sfu.js"
export type { KindQuality } from "./rtcp-hop.js"

/** @category models */
export interface MmrConfig {
  /** Its name in presence, placements, logs and metrics (`eu-mmr-1`). */
  readonly id: string
  /** The zone it serves: its load reports go to that zone's controllers. */
  readonly zone: string
  /** Participants it takes, across all its meetings. */
  readonly capacity: number
  /** The deployment's NATS subjects (`Subjects.make(prefix)`). */
  readonly subjects: Subjects
  /** The deployment's KV buckets (`Subjects.buckets(prefix)`). */
  readonly buckets: Buckets
  /** Default 1 s. */
  readonly reportInterval?: Duration.DurationInput
  /** How long its presence lives without renewal; also how long fencing waits to confirm a placement. Default 3 s. */
  readonly presenceTtl?: Duration.DurationInput
  /** How long, when stopping, participants get to move to another MMR. Default 5 s. */
  readonly drainGrace?: Duration.DurationInput
  /** A participant not heard from on control this long, with no media open, is gone. Default 15 s. */
  readonly participantTtl?: Duration.DurationInput
  /** JetStream replicas of the buckets it creates. Default 1. */
  readonly replicas?: number
  /** Media listeners (UDP/TCP and TLS); without them the MMR is control-only. */
  readonly media?: MediaPlane.MediaPlaneConfig
}

/** @category models */
export interface MmrHandle {
  readonly id: string
  readonly ref: Actor.ActorRef
  /** Stops (or resumes) taking new meetings; meetings it hosts go on. */
  readonly drain: (draining: boolean) => Effect.Effect<void>
  /** Meeting id → participants, now. */
  readonly meetings: Effect.Effect<ReadonlyMap<string, ReadonlyArray<Participant>>>
  readonly media: MediaPlane.MediaPlane | undefined
  readonly capacity: number
  /** Whether it is draining now. */
  readonly isDraining: () => boolean
  /** Joins and Leaves refused because they lacked the participant's session secret (a copied join token). */
  readonly sessionsRefused: () => number
  /** Meetings it stopped serving because it could not confirm they were placed on it (fencing). */
  readonly fenced: () => number
  /** Participants forgotten for having vanished (no control, no media, for participantTtl). */
  readonly expired: () => number
}

/**
 * Starts an MMR for the life of the scope.
 *
 * @category constructors
 */
export const start = (
  config: MmrConfig,
): Effect.Effect<MmrHandle, BusError | KvError | MediaPlane.MediaPlaneError, ControlBus | KeyValue | JoinTokens | Scope.Scope> =>
  Effect.gen(function* () {
    const { id, zone, capacity, subjects } = config
    const name = `mmr/${zone}/${id}`
    const tokens = yield* JoinTokens
    const stores = yield* Stores.open({ buckets: config.buckets, presenceTtl: config.presenceTtl, replicas: config.replicas })
    const meetings = new Map<string, Map<string, Participant>>()
    const plane = config.media === undefined ? undefined : yield* MediaPlane.start(config.media)
    let draining = false
    let leaving = false
    let participantCount = 0
    // Joins and Leaves refused for lack of the session secret (a copied token).
    let sessionsRefused = 0
    /** Completed when, while leaving, the last participant has moved away. */
    const everyoneMoved = yield* Deferred.make<void>()

    // --- load reports and presence ----------------------------------------------

    let cpuMark = { usage: process.cpuUsage(), at: performance.now() }
    const cpu = () => {
      const usage = process.cpuUsage(cpuMark.usage)
      const now = performance.now()
      const share = (usage.user + usage.system) / 1000 / Math.max(1, now - cpuMark.at)
      cpuMark = { usage: process.cpuUsage(), at: now }
      return share
    }
    const load = (at: number): MmrLoad => ({
      mmr: id,
      zone,
      subject: subjects.mmr(id),
      meetings: meetings.size,
      participants: participantCount,
      capacity,
      cpu: cpu(),
      packetsPerSecond: plane?.packetsPerSecond() ?? 0,
      draining,
      ...(leaving ? { leaving } : {}),
      ...(plane !== undefined ? { media: plane.endpoints } : {}),
      at,
    })
    const key = presenceKey.mmr(zone, id)
    const busContext = yield* Effect.context<ControlBus>()
    const report = Effect.gen(function* () {
      const current = load(yield* Clock.currentTimeMillis)
      yield* Topic.publish(subjects.zoneLoad(zone), MmrLoad, current)
      yield* stores.presence.put(key, { kind: "mmr", load: current })
    }).pipe(
      Effect.catchAll((e) => Effect.logWarning(`${name}: load report not sent: ${e.message}`)),
      Effect.provide(busContext),
    )

    // Registered first so it runs last: after the actor has served its mailbox.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        draining = true
        yield* report
        yield* stores.presence.delete(key).pipe(Effect.ignore)
      }),
    )
    // The first report before start returns: controllers that start next find this MMR at once.
    yield* report
    yield* Effect.sleep(config.reportInterval ?? "1 second").pipe(Effect.zipRight(report), Effect.forever, Effect.forkScoped)

    // --- the protocol -------------------------------------------------------------

    const roster = (meeting: string): ReadonlyArray<Participant> => [...(meetings.get(meeting)?.values() ?? [])]

    /** Tells whoever follows the meeting (tunnels, clients) who is in it now — or that it must move. */
    const announce = (meeting: string, moving = false) =>
      // Suspended: the roster is read when the announcement goes out, not when it is composed.
      Effect.suspend(() => Topic.publish(subjects.meetingRoster(meeting), RosterEvent, {
        meeting,
        mmr: id,
        roster: roster(meeting),
        ...(leaving || moving ? { leaving: true } : {}),
      })).pipe(
        Effect.catchAll((e) => Effect.logDebug(`${name}: roster of ${meeting} not announced: ${e.message}`)),
        Effect.provide(busContext),
      )

    // Session secrets (sessions.ts): bound by the first Join, required by every later request of the participant's.
    const sessions = new Sessions()
    const holdsSession = (meeting: string, participant: string, secret: string) => sessions.holds(meeting, participant, secret)

    const join = (token: string, session: string, ssrcs: Ssrcs | undefined, keyShare: string | undefined) =>
      Effect.gen(function* () {
        const claims = yield* tokens.verify(token)
        expiry.touch(claims.meeting, claims.participant, yield* Clock.currentTimeMillis)
        if (!holdsSession(claims.meeting, claims.participant, session)) {
          sessionsRefused++
          return yield* new SessionTaken({ meeting: claims.meeting, participant: claims.participant })
        }
        // Joins run concurrently: the secret is claimed before anything is awaited (a second Join with
        // another secret is refused meanwhile), and released if this one is not admitted.
        const claimed = !sessions.isBound(claims.meeting, claims.participant)
        sessions.bind(claims.meeting, claims.participant, session)
        const release = () => claimed && meetings.get(claims.meeting)?.has(claims.participant) !== true && sessions.forget(claims.meeting, claims.participant)
        return yield* admit(claims, ssrcs, keyShare).pipe(Effect.onError(() => Effect.sync(release)))
      })

    const admit = (claims: JoinClaims, ssrcs: Ssrcs | undefined, keyShare: string | undefined) =>
      Effect.gen(function* () {
        const placement = yield* stores.placements
          .get(claims.meeting)
          .pipe(Effect.mapError(Stores.unavailable("placements")))
        if (Option.isNone(placement) || placement.value.value.mmr !== id) {
          return yield* new NotHostedHere({
            meeting: claims.meeting,
            mmr: id,
            ...(Option.isSome(placement) ? { hostedBy: placement.value.value.mmr } : {}),
          })
        }
        let participants = meetings.get(claims.meeting)
        const rejoining = participants?.has(claims.participant) ?? false
        if (!rejoining && participantCount >= capacity) return yield* new MmrFull({ mmr: id, capacity })
        if (participants === undefined) {
          participants = new Map()
          meetings.set(claims.meeting, participants)
        }
        if (!rejoining) participantCount++
        participants.set(claims.participant, {
          id: claims.participant,
          name: claims.name,
          joinedAt: yield* Clock.currentTimeMillis,
          ...(ssrcs !== undefined ? { ssrcs } : {}),
          ...(keyShare !== undefined ? { keyShare } : {}),
        })
        const mediaTokens = plane?.sfu.admit(claims.meeting, claims.participant, ssrcs ?? {})
        yield* announce(claims.meeting)
        return {
          participant: claims.participant,
          meeting: claims.meeting,
          mmr: id,
          zone,
          roster: roster(claims.meeting),
          ...(plane !== undefined ? { media: plane.endpoints, mediaTokens } : {}),
        }
      })

    /** The request's authority: a valid join token of `meeting` (and of `participant`, when one is named). */
    const authorized = (token: string, meeting: string, participant?: string) =>
      Effect.flatMap(tokens.verify(token), (claims) =>
        claims.meeting !== meeting
          ? Effect.fail(new InvalidToken({ reason: `the token is for meeting ${claims.meeting}, not ${meeting}`, kind: "mismatch" }))
          : participant !== undefined && claims.participant !== participant
            ? Effect.fail(new InvalidToken({ reason: `the token is participant ${claims.participant}'s, not ${participant}'s`, kind: "mismatch" }))
            : Effect.void,
      )

    const leave = (meeting: string, participant: string) =>
      Effect.zipRight(
        Effect.sync(() => {
          expiry.forget(meeting, participant)
          plane?.sfu.remove(meeting, participant)
          sessions.forget(meeting, participant)
          const participants = meetings.get(meeting)
          if (participants?.delete(participant)) participantCount--
          if (participants?.size === 0) meetings.delete(meeting)
        }).pipe(
          Effect.zipRight(
            Effect.suspend(() => (leaving && participantCount === 0 ? Deferred.succeed(everyoneMoved, void 0) : Effect.void)),
          ),
        ),
        announce(meeting),
      )

    // --- participants who vanished without a word ---------------------------------------
    const ttl = config.participantTtl ?? "15 seconds"
    const expiry = new ParticipantExpiry(Duration.toMillis(ttl))
    let expired = 0
    const present = () => [...meetings].flatMap(([m, ps]) => [...ps.keys()].map((p) => [m, p] as const))
    yield* sweep({ name, ttl, expiry, present, hasMedia: (m, p) => plane?.sfu.hasMedia(m, p) ?? false, leave, onExpired: () => void expired++ })
    // --- fencing: serve only meetings it can confirm are placed here ----------------
    let fenced = 0
    yield* Fencing.run({
      self: id,
      meetings: () => [...meetings.keys()],
      placements: () => stores.placements.watch().pipe(Stream.map((c) => ({ meeting: c.key, mmr: Option.map(c.value, (p) => p.mmr) }))),
      fence: (meeting, why) =>
        Effect.gen(function* () {
          // Leaving, it knows its meetings move: their participants keep their media until they have.
          if (leaving) return
          const gone = [...(meetings.get(meeting)?.keys() ?? [])]
          for (const participant of gone) {
            plane?.sfu.remove(meeting, participant)
            sessions.forget(meeting, participant)
          }
          participantCount -= gone.length
          meetings.delete(meeting)
          fenced++
          yield* Effect.logWarning(
            `${name}: no longer serving meeting ${meeting} (${gone.length} participant(s)): ${why === "placed-elsewhere" ? "it is placed on another MMR" : "its placement could not be confirmed in time"}`,
          )
          // Whoever has not noticed yet (a mute MMR is alive and reachable on control): follow the placement.
          yield* announce(meeting, true)
        }),
      ttl: config.presenceTtl ?? "3 seconds",
    }).pipe(Effect.forkScoped)

    // End-to-end key messages, passed on as the sender's: only from a participant here, and bounded.
    const signal = Signals.relay({
      tokens,
      holdsSession,
      hosts: (meeting, participant) => meetings.get(meeting)?.has(participant) === true,
      publish: (event) =>
        Topic.publish(subjects.meetingRoster(event.meeting), E2eEvent, event).pipe(
          Effect.catchAll((e) => Effect.logDebug(`${name}: signal of ${event.from} not published: ${e.message}`)),
          Effect.provide(busContext),
        ),
    })

    const drain = (value: boolean) =>
      Effect.gen(function* () {
        draining = value
        yield* Effect.logInfo(`${name}: ${value ? "draining: no new meetings" : "taking new meetings again"}`)
        yield* report
      })

    const ref = yield* Actor.start(MmrProtocol, {
      name,
      listen: [{ subject: subjects.mmr(id) }],
      // A Join waits on the placements bucket: one at a time, a join storm queues behind those reads.
      concurrency: 16,
      behaviour: Effect.succeed({
        Join: ({ token, session, ssrcs, keyShare }) => join(token, session, ssrcs, keyShare),
        Leave: ({ meeting, participant, token, session }) =>
          authorized(token, meeting, participant).pipe(
            Effect.zipRight(
              holdsSession(meeting, participant, session)
                ? leave(meeting, participant)
                : Effect.zipRight(Effect.sync(() => void sessionsRefused++), Effect.fail(new SessionTaken({ meeting, participant }))),
            ),
            Effect.annotateLogs({ meeting, participant }),
          ),
        Roster: ({ meeting, token }) => Effect.as(authorized(token, meeting), roster(meeting)),
        MediaStats: ({ meeting, participant, token }) =>
          authorized(token, meeting, participant).pipe(
            Effect.zipRight(Effect.map(Clock.currentTimeMillis, (now) => expiry.touch(meeting, participant, now))),
            Effect.as(MediaPlane.participantCounters(plane, meeting, participant)),
          ),
        // Fresh tokens for a participant here (a kind changing transport, a new network address): no re-join.
        MediaTokens: ({ meeting, token, session }) =>
          Effect.gen(function* () {
            yield* authorized(token, meeting)
            const { participant } = yield* tokens.verify(token)
            if (!holdsSession(meeting, participant, session)) return yield* new SessionTaken({ meeting, participant })
            if (plane === undefined || meetings.get(meeting)?.has(participant) !== true) return yield* new NotHostedHere({ meeting, mmr: id })
            return plane.sfu.admit(meeting, participant, {})
          }),
        Signal: ({ meeting, token, session, signal: body }) => signal(meeting, token, session, body),
      }),
    })
    // Operators' and actors' requests (admin.ts), on subjects of their own: a client's credentials cannot reach them.
    yield* Admin.start({ id, name, subjects, meetings, plane, drain })

    // Registered after the actor, so it runs before the actor stops: participants
    // moving away still get their Leave answered.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        if (meetings.size === 0) return
        draining = true
        leaving = true
        yield* report // controllers now re-place these meetings
        const hosted = [...meetings.keys()]
        yield* Effect.logInfo(`${name}: stopping; asking ${participantCount} participant(s) in ${hosted.length} meeting(s) to move`)
        yield* Effect.forEach(hosted, (m) => announce(m), { discard: true })
        const graceMs = Duration.toMillis(config.drainGrace ?? "5 seconds")
        // Finalizers run uninterruptibly; the wait must be interruptible for the timeout to end it.
        if (graceMs > 0) yield* Deferred.await(everyoneMoved).pipe(Effect.interruptible, Effect.timeout(graceMs), Effect.ignore)
        yield* participantCount === 0
          ? Effect.logInfo(`${name}: every participant moved`)
          : Effect.logWarning(`${name}: ${participantCount} participant(s) still here after ${graceMs} ms; stopping anyway`)
      }),
    )

    return {
      id,
      ref,
      drain,
      media: plane,
      capacity,
      isDraining: () => draining,
      sessionsRefused: () => sessionsRefused,
      fenced: () => fenced,
      expired: () => expired,
      meetings: Effect.sync(() => new Map([...meetings].map(([m, ps]) => [m, [...ps.values()]]))),
    }
  }).pipe(Effect.annotateLogs({ zone: config.zone, mmr: config.id }))

/**
 * The MMR as a Layer, running for the life of the layer: for composing a
 * topology of one's own (merge the layers of the actors a process runs, and
 * provide the control plane and policies once).
 *
 * @category layers
 */
export const layer = (config: MmrConfig): Layer.Layer<never, BusError | KvError | MediaPlane.MediaPlaneError, ControlBus | KeyValue | JoinTokens> => Layer.scopedDiscard(start(config))
