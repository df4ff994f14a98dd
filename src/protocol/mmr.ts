/**
 * The MMR's control protocol.
 *
 *   Join   → Joined                 a participant joins a meeting hosted here (token checked)
 *          ✗ InvalidToken | NotHostedHere | MmrFull | StoreUnavailable
 *   Leave  → void
 *   Roster → participants of a meeting
 *   Drain  → DrainState             stop (or resume) taking new meetings
 *   MediaStats    → per-kind counters of one participant
 *   MediaTokens   → a fresh set of media tokens (a kind moving to another transport, a new network address)
 *   Signal        → void            an end-to-end key message, published on the meeting's events as the sender's
 *                 ✗ InvalidToken | SessionTaken | SignalRefused (not in the meeting here, or too many)
 *   MediaCounters → the MMR's media counters (bindings, drops by cause)
 *   Hosting       → which of a meeting's participants it serves (a controller weighing mute reports)
 *   HostedMeetings → every meeting here with its participants and their media (the operators' dashboard;
 *                    on a read-only subject of its own, `Subjects.mmrView`)
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Protocol from "./Protocol.js"
import { StoreUnavailable } from "./errors.js"
import { E2eSignal, KeyShare } from "./e2e.js"
import { MeetingId } from "./meeting.js"
import { InvalidToken } from "./token.js"
import { MediaKind, MediaTransport, Ssrcs } from "./media.js"
import { MediaTokenSet } from "./media-token.js"
import { MediaEndpoints } from "./zone.js"

/** @category schemas */
export const Participant = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  joinedAt: Schema.Number,
  /** The RTP streams it sends, so receivers can tell whose packets are whose. */
  ssrcs: Schema.optional(Ssrcs),
  /** Its X25519 key share, in an end-to-end encrypted meeting (protocol/e2e.ts). */
  keyShare: Schema.optional(KeyShare),
})
export type Participant = typeof Participant.Type

/** @category schemas */
export const Joined = Schema.Struct({
  participant: Schema.String,
  meeting: MeetingId,
  mmr: Schema.String,
  zone: Schema.String,
  roster: Schema.Array(Participant),
  /** Where to send media, once the media plane is up. */
  media: Schema.optional(MediaEndpoints),
  /** One per media kind and transport; each binds one connection, once. */
  mediaTokens: Schema.optional(MediaTokenSet),
})
export type Joined = typeof Joined.Type

/**
 * The placement says another MMR hosts this meeting (or none does).
 *
 * @category errors
 */
export class NotHostedHere extends Schema.TaggedError<NotHostedHere>()("NotHostedHere", {
  meeting: Schema.String,
  mmr: Schema.String,
  hostedBy: Schema.optional(Schema.String),
}) {
  override get message(): string {
    return `meeting ${this.meeting} is not hosted on ${this.mmr}${this.hostedBy ? ` but on ${this.hostedBy}` : ""}`
  }
}

/** @category errors */
export class MmrFull extends Schema.TaggedError<MmrFull>()("MmrFull", {
  mmr: Schema.String,
  capacity: Schema.Int,
}) {
  override get message(): string {
    return `${this.mmr} is full (${this.capacity} participants)`
  }
}

/**
 * The participant is here already, in a session bound to another secret: a
 * copied join token cannot take it over.
 *
 * @category errors
 */
export class SessionTaken extends Schema.TaggedError<SessionTaken>()("SessionTaken", {
  meeting: MeetingId,
  participant: Schema.String,
}) {
  override get message(): string {
    return `participant ${this.participant} of meeting ${this.meeting} is in a session of its own; a copied join token cannot take it over`
  }
}

/**
 * A participant's session secret: made by the client for its join, sent
 * with every Join and Leave, never shown to anyone else. The first Join
 * binds it; later ones (a re-join, a move to another MMR) must carry it.
 *
 * @category schemas
 */
export const SessionSecret = Schema.String.pipe(Schema.minLength(16), Schema.maxLength(128))

/** @category requests */
export class Join extends Schema.TaggedRequest<Join>()("Join", {
  payload: { token: Schema.String, session: SessionSecret, ssrcs: Schema.optional(Ssrcs), keyShare: Schema.optional(KeyShare) },
  success: Joined,
  failure: Schema.Union(InvalidToken, SessionTaken, NotHostedHere, MmrFull, StoreUnavailable),
}) {}

/** @category requests */
export class Leave extends Schema.TaggedRequest<Leave>()("Leave", {
  /** `token` and `session`: the participant's own; nobody else can make them leave. */
  payload: { meeting: MeetingId, participant: Schema.String, token: Schema.String, session: SessionSecret },
  success: Schema.Void,
  failure: Schema.Union(InvalidToken, SessionTaken),
}) {}

/** @category requests */
export class Roster extends Schema.TaggedRequest<Roster>()("Roster", {
  /** `token`: a join token of this meeting; no other meeting's roster is told. */
  payload: { meeting: MeetingId, token: Schema.String },
  success: Schema.Array(Participant),
  failure: InvalidToken,
}) {}

/**
 * Published on every join and leave — and when the MMR stops: `leaving` asks
 * every participant to re-join (the controllers place the meeting elsewhere).
 *
 * @category schemas
 */
export const RosterEvent = Schema.Struct({
  meeting: MeetingId,
  mmr: Schema.String,
  roster: Schema.Array(Participant),
  leaving: Schema.optional(Schema.Boolean),
})
export type RosterEvent = typeof RosterEvent.Type

/** @category schemas */
export const DrainState = Schema.Struct({ mmr: Schema.String, draining: Schema.Boolean, meetings: Schema.Int })

/** @category requests */
export class Drain extends Schema.TaggedRequest<Drain>()("Drain", {
  payload: { draining: Schema.Boolean },
  success: DrainState,
  failure: Schema.Never,
}) {}

/** Counters of one participant's media of one kind. @category schemas */
export const KindCounters = Schema.Struct({
  packetsIn: Schema.Number,
  bytesIn: Schema.Number,
  packetsOut: Schema.Number,
  bytesOut: Schema.Number,
  drops: Schema.Number,
  refused: Schema.Number,
  loss: Schema.Number,
  jitterMs: Schema.Number,
})
export type KindCounters = typeof KindCounters.Type

/** @category requests */
export class MediaStats extends Schema.TaggedRequest<MediaStats>()("MediaStats", {
  /** `token`: the participant's own join token. */
  payload: { meeting: MeetingId, participant: Schema.String, token: Schema.String },
  success: Schema.Record({ key: MediaKind, value: KindCounters }),
  failure: InvalidToken,
}) {}

/** @category requests */
export class MediaTokens extends Schema.TaggedRequest<MediaTokens>()("MediaTokens", {
  /** `token` and `session`: the participant's own, as for Leave. */
  payload: { meeting: MeetingId, token: Schema.String, session: SessionSecret },
  success: MediaTokenSet,
  failure: Schema.Union(InvalidToken, SessionTaken, NotHostedHere),
}) {}

/** The MMR did not pass a signal on: the sender is not in the meeting here, or sent too many. @category errors */
export class SignalRefused extends Schema.TaggedError<SignalRefused>()("SignalRefused", {
  reason: Schema.Literal("not-here", "too-many"),
}) {
  override get message(): string {
    return this.reason === "not-here" ? "the sender is not in the meeting on this MMR" : "too many signals: at most 20 a second, 40 at once"
  }
}

/** @category requests */
export class Signal extends Schema.TaggedRequest<Signal>()("Signal", {
  /** `token` and `session`: the sender's own; `from` in the published event is the token's participant. */
  payload: { meeting: MeetingId, token: Schema.String, session: SessionSecret, signal: E2eSignal },
  success: Schema.Void,
  failure: Schema.Union(InvalidToken, SessionTaken, SignalRefused),
}) {}

/** @category schemas */
export const MediaCountersReply = Schema.Struct({
  counters: Schema.Record({ key: Schema.String, value: Schema.Number }),
  bindings: Schema.Record({ key: MediaTransport, value: Schema.Number }),
})

/** @category requests */
export class MediaCounters extends Schema.TaggedRequest<MediaCounters>()("MediaCounters", {
  payload: {},
  success: MediaCountersReply,
  failure: Schema.Never,
}) {}

/** @category requests */
export class Hosting extends Schema.TaggedRequest<Hosting>()("Hosting", {
  payload: { meeting: MeetingId },
  /** The ids of the meeting's participants it serves. */
  success: Schema.Struct({ participants: Schema.Array(Schema.String) }),
  failure: Schema.Never,
}) {}

/** One participant's media connection of one kind, as the MMR sees it. @category schemas */
export const ConnectionView = Schema.Struct({
  kind: MediaKind,
  transport: MediaTransport,
  packetsIn: Schema.Number,
  bytesIn: Schema.Number,
  packetsOut: Schema.Number,
  bytesOut: Schema.Number,
  /** Packets not sent to it (slow or gone). */
  drops: Schema.Number,
  /** What was lost on the way in (by sequence number), 0..1. */
  lossIn: Schema.Number,
  /** What it reports losing of the streams it gets (RTCP), mean, 0..1; none before its first report. */
  lossOut: Schema.optional(Schema.Number),
  jitterMs: Schema.Number,
  /** Round trip to it (RTCP), once known. */
  rttMs: Schema.optional(Schema.Number),
})
export type ConnectionView = typeof ConnectionView.Type

/** @category schemas */
export const ParticipantView = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  joinedAt: Schema.Number,
  /** Its bound connections, one per kind it sends or receives. */
  media: Schema.Array(ConnectionView),
})
export type ParticipantView = typeof ParticipantView.Type

/** @category schemas */
export const HostedMeeting = Schema.Struct({ meeting: MeetingId, participants: Schema.Array(ParticipantView) })
export type HostedMeeting = typeof HostedMeeting.Type

/** @category requests */
export class HostedMeetings extends Schema.TaggedRequest<HostedMeetings>()("HostedMeetings", {
  payload: {},
  success: Schema.Struct({ mmr: Schema.String, meetings: Schema.Array(HostedMeeting) }),
  failure: Schema.Never,
}) {}

/** What clients may ask an MMR, on its client subject (`Subjects.mmr`). @category protocols */
export const MmrProtocol = Protocol.make("mmr", Join, Leave, Roster, MediaStats, MediaTokens, Signal)

/** What only operators and other actors may ask an MMR, on its admin subject (`Subjects.mmrAdmin`). @category protocols */
export const MmrAdminProtocol = Protocol.make("mmr-admin", Drain, MediaCounters, Hosting)

/** What may be read of an MMR and nothing more (the web tier's dashboard), on `Subjects.mmrView`. @category protocols */
export const MmrViewProtocol = Protocol.make("mmr-view", HostedMeetings)
