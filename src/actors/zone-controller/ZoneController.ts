/**
 * The zone controller. Several run per zone, with no leader: they share the
 * zone's Assign subject as a queue group, and each answers probes on a
 * subject of its own.
 *
 *   Probe  → answered at once with this controller's id and zone
 *   Assign → the MMR already hosting the meeting if it is alive, else the best
 *            MMR with room; the placement is written create-if-absent (or
 *            compare-and-set over a dead MMR's), so two controllers answering
 *            at once can never put one meeting on two MMRs
 *   load reports (published by the zone's MMRs) → the load table
 *   Assign with a suspect → the controller checks the MMR itself before it
 *            moves anything: its admin subject (silent), and for "mute" its
 *            media port and a quorum of the meeting's participants
 *   mute reports (shared by the zone's controllers) → counted toward that quorum
 *   presence: `controller.<zone>.<id>` renewed every second, removed on stop
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, Layer, Option, Schedule, Stream } from "effect"
import { MuteReport, NoCapacity, ZoneControllerProtocol } from "../../protocol/controller.js"
import type { BusError, KeyExists, KvError, RevisionMismatch } from "../../protocol/errors.js"
import type { Placement } from "../../protocol/meeting.js"
import type { Buckets, Subjects } from "../../protocol/subjects.js"
import { presenceKey } from "../../protocol/subjects.js"
import { InvalidToken, JoinTokens } from "../../protocol/token.js"
import { Hosting, MediaCounters } from "../../protocol/mmr.js"
import { MmrLoad } from "../../protocol/zone.js"
import { ask } from "../../runtime/Ask.js"
import * as Actor from "../../runtime/Actor.js"
import type { ControlBus } from "../../runtime/ControlBus.js"
import type { KeyValue } from "../../runtime/KeyValue.js"
import * as Topic from "../../runtime/Topic.js"
import * as MediaProbe from "../../transports/media/probe.js"
import * as Stores from "../stores.js"
import * as LoadTable from "./load-table.js"
import * as Mute from "./mute-reports.js"
import { MmrSelector } from "./selector.js"

/** @category models */
export interface ZoneControllerConfig {
  /** The zone it places meetings in. */
  readonly zone: string
  /** Its name in presence, placements, logs and metrics (`c1`). */
  readonly id: string
  /** The deployment's NATS subjects (`Subjects.make(prefix)`). */
  readonly subjects: Subjects
  /** The deployment's KV buckets (`Subjects.buckets(prefix)`). */
  readonly buckets: Buckets
  /** An MMR silent this long gets no new meetings. Default 3 s. */
  readonly mmrTtl?: Duration.DurationInput
  /** How often presence is renewed. Default 1 s. */
  readonly presenceInterval?: Duration.DurationInput
  /** How long its presence lives without renewal. Default 3 s. */
  readonly presenceTtl?: Duration.DurationInput
  /** JetStream replicas of the buckets it creates. Default 1. */
  readonly replicas?: number
  /** How long an MMR a client finds silent gets to answer the controller's own check. Default 300 ms. */
  readonly checkTimeout?: Duration.DurationInput
  /** How long a participant's mute report counts toward the quorum. Default 5 s. */
  readonly muteWindow?: Duration.DurationInput
}

/** What a controller has done since it started. @category models */
export interface ControllerStats {
  readonly probes: number
  /** Assigns by outcome: a new placement, a meeting moved off a dead or leaving MMR, the existing host kept, no MMR with headroom. */
  readonly assigns: { readonly placed: number; readonly moved: number; readonly kept: number; readonly noCapacity: number }
  /** Participants' mute reports: confirmed (the meeting moved) or not (one voice, media port answering). */
  readonly mute: { readonly confirmed: number; readonly unconfirmed: number }
}

/** @category models */
export interface ZoneControllerHandle {
  readonly ref: Actor.ActorRef
  readonly placements: Effect.Effect<number>
  /** What it has done since it started (for metrics). */
  readonly stats: () => ControllerStats
}

/**
 * Starts a controller for the life of the scope.
 *
 * @category constructors
 */
export const start = (
  config: ZoneControllerConfig,
): Effect.Effect<ZoneControllerHandle, BusError | KvError, ControlBus | KeyValue | JoinTokens | MmrSelector | Scope.Scope> =>
  Effect.gen(function* () {
    const { zone, id, subjects } = config
    const name = `zone-controller/${zone}/${id}`
    const tokens = yield* JoinTokens
    const selector = yield* MmrSelector
    const stores = yield* Stores.open({
      buckets: config.buckets,
      presenceTtl: config.presenceTtl,
      replicas: config.replicas,
    })
    const mmrTtlMs = Duration.toMillis(config.mmrTtl ?? "3 seconds")
    /** Reports older than this, with no answer to a check: the MMR is frozen or cut off. */
    const staleReportMs = mmrTtlMs / 2
    const table = LoadTable.make(mmrTtlMs)
    let placements = 0
    let probes = 0
    const assigns = { placed: 0, moved: 0, kept: 0, noCapacity: 0 }
    const mute = { confirmed: 0, unconfirmed: 0 }

    // --- load reports → the load table -------------------------------------

    // Subscribe first, then read presence: no report can fall between the two.
    const reports = yield* Topic.subscribe(subjects.zoneLoad(zone), MmrLoad)
    const seeded = yield* stores.presence.values(`mmr.${zone}.*`).pipe(Effect.orElseSucceed(() => []))
    const seededAt = yield* Clock.currentTimeMillis
    for (const { value } of seeded) if (value.kind === "mmr") table.report(value.load, seededAt)
    yield* reports.messages.pipe(
      Stream.runForEach((load) => Effect.map(Clock.currentTimeMillis, (now) => table.report(load, now))),
      Effect.forkScoped,
    )

    // --- presence ------------------------------------------------------------

    const key = presenceKey.controller(zone, id)
    const renewPresence = Effect.flatMap(Clock.currentTimeMillis, (at) =>
      stores.presence.put(key, { kind: "controller", zone, id, subject: subjects.controller(zone, id), at }),
    ).pipe(Effect.catchAll((e) => Effect.logWarning(`${name}: presence not renewed: ${e.message}`)))
    yield* Effect.addFinalizer(() => stores.presence.delete(key).pipe(Effect.ignore))
    yield* renewPresence.pipe(Effect.repeat(Schedule.spaced(config.presenceInterval ?? "1 second")), Effect.forkScoped)

    // --- Assign ----------------------------------------------------------------

    /**
     * Can the host keep the meeting? Alive (same zone → its reports; another
     * zone → its presence record) and not leaving (a stopping MMR's meetings move).
     */
    const hostAlive = (placement: Placement, now: number) =>
      (confirmedGone.get(placement.mmr) ?? 0) > now || muted(placement.meeting, placement.mmr, now)
        ? Effect.succeed(false)
        : placement.zone === zone && table.get(placement.mmr) !== undefined
        ? Effect.succeed(table.isAlive(placement.mmr, now) && table.get(placement.mmr)?.leaving !== true)
        : stores.presence.get(presenceKey.mmr(placement.zone, placement.mmr)).pipe(
            Effect.map((p) => Option.isSome(p) && !(p.value.value.kind === "mmr" && p.value.value.load.leaving === true)),
            Effect.mapError(Stores.unavailable("presence")),
          )

    /**
     * A client finds `mmr` silent: is it? A short question on its admin
     * subject. Nobody listening (its process died) counts it gone at once; no
     * answer counts only when its load reports have stopped too (frozen, cut
     * off) — a busy MMR answers late but still reports. Gone lasts until it
     * reports again. The client's word alone moves nothing.
     */
    /** MMRs this controller checked and found silent, until when it believes so (any zone's). */
    const confirmedGone = new Map<string, number>()
    const silent = (mmr: string) =>
      ask(subjects.mmrAdmin(mmr), new MediaCounters(), { timeout: config.checkTimeout ?? "300 millis" }).pipe(
        Effect.as(false),
        Effect.catchAll((e) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const age = table.reportAge(mmr, now)
            const gone = e._tag === "NoResponders" || (e._tag === "RequestTimeout" && age !== undefined && age > staleReportMs)
            return gone
              ? Effect.as(Effect.logWarning(`${name}: ${mmr} does not answer (${e._tag}${age !== undefined ? `, last report ${Math.round(age)} ms ago` : ""}): its meetings move`), true)
              : Effect.succeed(false)
          }),
        ),
        Effect.tap((gone) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sync(() => {
              if (!gone) return
              table.forget(mmr)
              confirmedGone.set(mmr, now + mmrTtlMs)
              for (const [m, until] of confirmedGone) if (until <= now) confirmedGone.delete(m)
            }),
          ),
        ),
      )

    // --- mute: control answers, media does not ------------------------------------

    const muteWindowMs = Duration.toMillis(config.muteWindow ?? "5 seconds")
    const muteReports = new Mute.MuteReports(muteWindowMs)
    /** Meetings moved off an MMR whose media was found mute, until when; and MMRs whose media port did not answer at all. */
    const mutedMeetings = new Map<string, { readonly mmr: string; readonly until: number }>()
    const mediaDown = new Map<string, number>()
    const muted = (meeting: string, mmr: string, now: number) => {
      const m = mutedMeetings.get(meeting)
      return (m !== undefined && m.mmr === mmr && m.until > now) || (mediaDown.get(mmr) ?? 0) > now
    }
    const muteSubject = subjects.zoneMuteReports(zone)
    const others = yield* Topic.subscribe(muteSubject, MuteReport)
    yield* others.messages.pipe(
      Stream.runForEach((r) =>
        r.by === id ? Effect.void : Effect.map(Clock.currentTimeMillis, (now) => void muteReports.add(r.meeting, r.mmr, r.participant, now)),
      ),
      Effect.forkScoped,
    )
    const mediaOf = (placement: Placement) =>
      placement.zone === zone && table.get(placement.mmr)?.media !== undefined
        ? Effect.succeed(table.get(placement.mmr)?.media)
        : stores.presence.get(presenceKey.mmr(placement.zone, placement.mmr)).pipe(
            Effect.map((p) => (Option.isSome(p) && p.value.value.kind === "mmr" ? p.value.value.load.media : undefined)),
            Effect.orElseSucceed(() => undefined),
          )

    /**
     * `participant` says its media to the meeting's MMR is mute. Counted (and
     * told to the zone's other controllers); the meeting moves when the MMR's
     * media port does not answer this controller either, or when a quorum of
     * the meeting's participants there say the same.
     */
    const weighMute = (placement: Placement, participant: string) =>
      Effect.gen(function* () {
        const { meeting, mmr } = placement
        const now = yield* Clock.currentTimeMillis
        const reporters = muteReports.add(meeting, mmr, participant, now)
        yield* Topic.publish(muteSubject, MuteReport, { meeting, mmr, participant, by: id }).pipe(Effect.ignore)
        const checkMs = Duration.toMillis(config.checkTimeout ?? "300 millis")
        const media = yield* mediaOf(placement)
        const [mediaAnswered, hosted] = yield* Effect.all(
          [
            media === undefined ? Effect.succeed(true) : MediaProbe.udp(media.host, media.port, checkMs),
            ask(subjects.mmrAdmin(mmr), new Hosting({ meeting }), { timeout: Duration.millis(checkMs) }).pipe(
              Effect.map((h) => new Set(h.participants)),
              Effect.orElseSucceed(() => new Set<string>()),
            ),
          ],
          { concurrency: 2 },
        )
        // Only the meeting's participants on that MMR count: anyone can get a join token, not a seat.
        const voices = reporters.filter((p) => hosted.has(p)).length
        const participants = hosted.size
        const verdict = Mute.decide({ reporters: voices, participants, mediaAnswered })
        if (verdict === "kept") {
          mute.unconfirmed++
          return yield* Effect.logInfo(`${name}: ${participant} finds ${mmr} mute; ${voices} of its ${participants} participants say so, its media port answers: kept`)
        }
        mute.confirmed++
        muteReports.clear(meeting, mmr)
        mutedMeetings.set(meeting, { mmr, until: now + muteWindowMs * 2 })
        if (!mediaAnswered) mediaDown.set(mmr, now + mmrTtlMs)
        for (const [m, v] of mutedMeetings) if (v.until <= now) mutedMeetings.delete(m)
        yield* Effect.logWarning(
          `${name}: ${mmr} is mute for meeting ${meeting} (${mediaAnswered ? `${voices} of ${participants} participants say so` : "its media port does not answer"}): the meeting moves`,
        )
      })

    const assign = (meeting: string, token: string, suspect: string | undefined, evidence: "silent" | "mute" | undefined) =>
      Effect.gen(function* () {
        const claims = yield* tokens.verify(token)
        if (claims.meeting !== meeting) {
          return yield* new InvalidToken({ reason: `the token is for meeting ${claims.meeting}` })
        }
        if (suspect !== undefined) {
          const current = yield* stores.placements.get(meeting).pipe(Effect.mapError(Stores.unavailable("placements")))
          // Whichever zone it is in: a meeting placed on a silent MMR of another zone comes here too.
          if (Option.isSome(current) && current.value.value.mmr === suspect) {
            const gone = yield* silent(suspect)
            if (!gone && evidence === "mute") yield* weighMute(current.value.value, claims.participant)
          }
        }
        // Each turn either returns or lost a race to another controller; the
        // next turn reads the winner. Five turns is far more than two racers need.
        for (let turn = 0; turn < 5; turn++) {
          const now = yield* Clock.currentTimeMillis
          const existing = yield* stores.placements.get(meeting).pipe(Effect.mapError(Stores.unavailable("placements")))
          if (Option.isSome(existing) && (yield* hostAlive(existing.value.value, now))) {
            assigns.kept++
            return existing.value.value
          }

          // Never back onto an MMR this meeting just left for being mute.
          const live = table.live(now).filter((l) => !muted(meeting, l.load.mmr, now))
          const chosen = selector.select(live, meeting)
          if (Option.isNone(chosen)) {
            assigns.noCapacity++
            return yield* new NoCapacity({ zone, liveMmrs: live.length })
          }
          const placement: Placement = {
            meeting,
            zone,
            mmr: chosen.value.load.mmr,
            subject: chosen.value.load.subject,
            placedBy: id,
            at: now,
          }
          const write: Effect.Effect<number, KvError | KeyExists | RevisionMismatch> = Option.isSome(existing)
            ? stores.placements.update(meeting, placement, existing.value.revision)
            : stores.placements.create(meeting, placement)
          const won = yield* write.pipe(
            Effect.as(true),
            Effect.catchTags({ KeyExists: () => Effect.succeed(false), RevisionMismatch: () => Effect.succeed(false) }),
            Effect.mapError(Stores.unavailable("placements")),
          )
          if (won) {
            table.placed(placement.mmr)
            placements++
            if (Option.isSome(existing)) assigns.moved++
            else assigns.placed++
            yield* Effect.logInfo(
              Option.isSome(existing)
                ? `${name}: moved meeting ${meeting} from ${existing.value.value.mmr} (gone or leaving) to ${placement.mmr}`
                : `${name}: placed meeting ${meeting} on ${placement.mmr}`,
            )
            return placement
          }
          yield* Effect.logDebug(`${name}: another controller placed meeting ${meeting} first; reading its placement`)
        }
        return yield* Effect.dieMessage(`${name}: placement of ${meeting} kept changing under five attempts`)
      })

    // --- the actor ---------------------------------------------------------------

    const ref = yield* Actor.start(ZoneControllerProtocol, {
      name,
      listen: [
        { subject: subjects.controller(zone, id) },
        { subject: subjects.zoneAssign(zone), queue: subjects.zoneAssignQueue(zone) },
      ],
      // Probes must not wait behind an Assign's store round trips.
      concurrency: 32,
      behaviour: Effect.succeed({
        Probe: ({ sample }) => Effect.sync(() => ({ controller: id, zone, sample: (probes++, sample) })),
        Assign: ({ meeting, token, suspect, evidence }) => assign(meeting, token, suspect, evidence).pipe(Effect.annotateLogs("meeting", meeting)),
      }),
    })
    return { ref, placements: Effect.sync(() => placements), stats: () => ({ probes, assigns: { ...assigns }, mute: { ...mute } }) }
  }).pipe(Effect.annotateLogs({ zone: config.zone, controller: config.id }))

/**
 * The zone controller as a Layer, running for the life of the layer: for composing a
 * topology of one's own (merge the layers of the actors a process runs, and
 * provide the control plane and policies once).
 *
 * @category layers
 */
export const layer = (config: ZoneControllerConfig): Layer.Layer<never, BusError | KvError, ControlBus | KeyValue | JoinTokens | MmrSelector> => Layer.scopedDiscard(start(config))
