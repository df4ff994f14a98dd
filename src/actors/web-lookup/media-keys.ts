/**
 * The web tier's media keys: one record per meeting in a bucket only web
 * servers may read (NATS permissions), holding the meeting's key epochs
 * (random 256-bit keys, the newest few), the secret each participant's
 * wrapping key comes from, and who has left.
 *
 * It follows the meetings' rosters (what the MMRs publish): when someone is
 * gone from the roster of the MMR the meeting is placed on, and every
 * `rekeyEvery`, the meeting moves to a new epoch — by compare-and-set, so
 * that two web servers seeing the same leave make one epoch — and the epoch
 * is published wrapped for each participant still there. Someone who left is
 * sent no new key and is refused one when asking again.
 *
 * @since 0.2.0
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, Option, Schedule, Schema, Stream } from "effect"
import type { KvError } from "../../protocol/errors.js"
import { StoreUnavailable } from "../../protocol/errors.js"
import { MeetingId } from "../../protocol/meeting.js"
import { E2eEvent } from "../../protocol/e2e.js"
import type { MediaKeys } from "../../protocol/media-keys.js"
import * as Keys from "../../protocol/media-keys.js"
import { RosterEvent } from "../../protocol/mmr.js"
import type { Buckets, Subjects } from "../../protocol/subjects.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import { KeyValue } from "../../runtime/KeyValue.js"
import * as Topic from "../../runtime/Topic.js"
import * as TypedBucket from "../../runtime/TypedBucket.js"
import type { Stores } from "../stores.js"

/** What the bucket keeps per meeting. @category schemas */
export const KeyRecord = Schema.Struct({
  meeting: MeetingId,
  wrapSecret: Schema.String,
  epochs: Schema.Array(Schema.Struct({ epoch: Schema.Int, key: Schema.String, at: Schema.Number })),
  /** Participants who left, newest last (bounded): never given a key again. */
  departed: Schema.Array(Schema.String),
})
export type KeyRecord = typeof KeyRecord.Type

/** @category models */
export interface MediaKeyOptions {
  readonly subjects: Subjects
  readonly buckets: Buckets
  readonly replicas?: number
  readonly stores: Stores
  /** A new epoch this often in a meeting with people in it. Default 15 minutes. */
  readonly rekeyEvery?: Duration.DurationInput
  /** How long senders wait before using a new epoch (receivers take it at once). Default 1 s. */
  readonly activateInMs?: number
}

/** @category models */
export interface MediaKeyService {
  /** The keys for a participant being admitted now (the meeting's record made on first use). */
  readonly forJoin: (meeting: string, participant: string) => Effect.Effect<MediaKeys, StoreUnavailable>
  /** The keys again, or none for a participant who left. */
  readonly forParticipant: (meeting: string, participant: string) => Effect.Effect<Option.Option<MediaKeys>, StoreUnavailable>
  /** Moves the meeting to a new epoch for `recipients`; `departed` are told none. The new epoch, when this server made it. */
  readonly rotate: (meeting: string, departed: ReadonlyArray<string>, recipients: ReadonlyArray<string>) => Effect.Effect<Option.Option<number>, StoreUnavailable>
  /** Epochs this server made (for metrics). */
  readonly rotations: () => number
}

const KEPT_EPOCHS = 4
const KEPT_DEPARTED = 2000
const unavailable = (e: { readonly message: string }) => new StoreUnavailable({ store: "media keys", detail: e.message })

/**
 * The key service for the life of the scope: its bucket, and the roster
 * follower that re-keys on leave and on the period.
 *
 * @category constructors
 */
export const start = (options: MediaKeyOptions): Effect.Effect<MediaKeyService, KvError, ControlBus | KeyValue | Scope.Scope> =>
  Effect.gen(function* () {
    const kv = yield* KeyValue
    const bus = yield* ControlBus
    const bucket = TypedBucket.make(yield* kv.bucket(options.buckets.mediaKeys, { replicas: options.replicas ?? 1 }), KeyRecord)
    const activateInMs = options.activateInMs ?? 1000
    let rotations = 0

    const toKeys = (record: KeyRecord, participant: string): MediaKeys => ({
      profile: "AEAD_AES_256_GCM",
      epochs: record.epochs.map((e) => ({ epoch: e.epoch, key: e.key })),
      wrapKey: Keys.wrapKeyFor(Buffer.from(record.wrapSecret, "base64"), record.meeting, participant).toString("base64"),
    })
    const ensure = (meeting: string) =>
      Effect.gen(function* () {
        const found = yield* bucket.get(meeting)
        if (Option.isSome(found)) return found.value.value
        const fresh: KeyRecord = {
          meeting,
          wrapSecret: Keys.newKey().toString("base64"),
          epochs: [{ epoch: 1, key: Keys.newKey().toString("base64"), at: yield* Clock.currentTimeMillis }],
          departed: [],
        }
        // Two web servers admitting the first two participants at once: one record wins, both use it.
        const created = yield* bucket.create(meeting, fresh).pipe(
          Effect.as(true),
          Effect.catchTag("KeyExists", () => Effect.succeed(false)),
        )
        if (created) return fresh
        const again = yield* bucket.get(meeting)
        return Option.isSome(again) ? again.value.value : yield* Effect.fail(new StoreUnavailable({ store: "media keys", detail: `no record for ${meeting}` }))
      }).pipe(Effect.catchTags({ KvError: (e) => Effect.fail(unavailable(e)), DecodeError: (e) => Effect.fail(unavailable(e)) }))

    const rotate = (meeting: string, departed: ReadonlyArray<string>, recipients: ReadonlyArray<string>, periodic = false) =>
      Effect.gen(function* () {
        for (let attempt = 0; attempt < 5; attempt++) {
          const found = yield* bucket.get(meeting)
          if (Option.isNone(found)) return Option.none<number>()
          const record = found.value.value
          const now = yield* Clock.currentTimeMillis
          const departedBefore = new Set(record.departed)
          const gone = departed.filter((p) => !departedBefore.has(p))
          // Another web server saw this leave first (or re-keyed for the period just now).
          if (!periodic && gone.length === 0) return Option.none<number>()
          const last = record.epochs[record.epochs.length - 1]!
          // The period is counted from the last epoch, whoever made it (a leave, another web server).
          if (periodic && now - last.at < msOf(options.rekeyEvery)) return Option.none<number>()
          const next = { epoch: last.epoch + 1, key: Keys.newKey().toString("base64"), at: now }
          const updated: KeyRecord = {
            ...record,
            epochs: [...record.epochs, next].slice(-KEPT_EPOCHS),
            departed: [...record.departed, ...gone].slice(-KEPT_DEPARTED),
          }
          const won = yield* bucket.update(meeting, updated, found.value.revision).pipe(
            Effect.as(true),
            Effect.catchTag("RevisionMismatch", () => Effect.succeed(false)),
          )
          if (!won) continue
          rotations++
          const secret = Buffer.from(record.wrapSecret, "base64")
          const key = Buffer.from(next.key, "base64")
          const wrapped: Record<string, string> = {}
          const departedNow = new Set(updated.departed)
          for (const p of recipients) {
            if (!departedNow.has(p)) wrapped[p] = Keys.wrap(Keys.wrapKeyFor(secret, meeting, p), meeting, next.epoch, p, key)
          }
          yield* Topic.publish(options.subjects.meetingRoster(meeting), Keys.MediaKeyEvent, { type: "media-keys" as const, meeting, epoch: next.epoch, wrapped, activateInMs }).pipe(
            Effect.provideService(ControlBus, bus),
            Effect.tapError((e) => Effect.logWarning(`epoch ${next.epoch} of ${meeting} not published: ${e.message}`)),
            Effect.ignore,
          )
          yield* Effect.logInfo(`meeting ${meeting}: media key epoch ${next.epoch}${gone.length > 0 ? ` (${gone.join(", ")} left)` : " (period)"}`)
          return Option.some(next.epoch)
        }
        return Option.none<number>()
      }).pipe(Effect.catchTags({ KvError: (e) => Effect.fail(unavailable(e)), DecodeError: (e) => Effect.fail(unavailable(e)) }))

    // --- following the rosters ----------------------------------------------------------
    /** Per meeting: the MMR the last roster came from, and who was in it. */
    const rosters = new Map<string, { mmr: string; ids: ReadonlyArray<string> }>()
    const onRoster = (event: RosterEvent) =>
      Effect.gen(function* () {
        if (event.leaving === true) return
        const ids = event.roster.map((p) => p.id)
        const before = rosters.get(event.meeting)
        // Only the MMR the meeting is placed on speaks for it: during a move the old one empties as people arrive elsewhere.
        const placed = yield* options.stores.placements.get(event.meeting).pipe(Effect.option, Effect.map(Option.flatten))
        if (Option.isSome(placed) && placed.value.value.mmr !== event.mmr) return
        rosters.set(event.meeting, { mmr: event.mmr, ids })
        if (rosters.size > 100_000) rosters.delete(rosters.keys().next().value!)
        if (before === undefined || before.mmr !== event.mmr) return
        const gone = before.ids.filter((id) => !ids.includes(id))
        if (gone.length > 0) yield* rotate(event.meeting, gone, ids).pipe(Effect.ignoreLogged)
      })
    const events = yield* Topic.subscribe(options.subjects.meetingRoster("*"), Schema.Union(RosterEvent, Keys.MediaKeyEvent, E2eEvent)).pipe(
      Effect.provideService(ControlBus, bus),
      Effect.orDie,
    )
    yield* events.messages.pipe(
      Stream.runForEach((event) => ("roster" in event ? onRoster(event) : Effect.void)),
      Effect.forkScoped,
    )
    const period = msOf(options.rekeyEvery)
    yield* Effect.suspend(() =>
      Effect.forEach([...rosters].filter(([, r]) => r.ids.length > 0), ([meeting, r]) => rotate(meeting, [], r.ids, true).pipe(Effect.ignoreLogged), { discard: true }),
    ).pipe(Effect.repeat(Schedule.spaced(Math.max(250, period / 4))), Effect.forkScoped)

    return {
      forJoin: (meeting, participant) => Effect.map(ensure(meeting), (r) => toKeys(r, participant)),
      forParticipant: (meeting, participant) =>
        bucket.get(meeting).pipe(
          Effect.map(Option.filter((v) => !v.value.departed.includes(participant))),
          Effect.map(Option.map((v) => toKeys(v.value, participant))),
          Effect.catchTags({ KvError: (e) => Effect.fail(unavailable(e)), DecodeError: (e) => Effect.fail(unavailable(e)) }),
        ),
      rotate: (meeting, departed, recipients) => rotate(meeting, departed, recipients),
      rotations: () => rotations,
    } satisfies MediaKeyService
  })

const msOf = (d: Duration.DurationInput | undefined): number => (d === undefined ? 15 * 60_000 : Duration.toMillis(Duration.decode(d)))
