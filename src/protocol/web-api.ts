/**
 * The web lookup's HTTPS API, as schemas both sides use.
 *
 *   POST /api/meetings                    CreateMeeting → MeetingView (201)
 *   GET  /api/meetings/:id                MeetingView
 *   GET  /api/meetings/:id/join-info      JoinInfo     (passcode: X-Meeting-Passcode header or ?passcode=)
 *   GET  /api/meetings/:id/media-keys     MediaKeys    (Authorization: Bearer <joinToken>; 403 once the participant left; 409 end-to-end)
 *   GET  /relay                           WebSocket: the client relay (protocol/relay.ts)
 *   POST /api/joins                       JoinSummary → 202 (how a join went, for operators)
 *   GET  /ops/api/state                   OpsState     (Authorization: Bearer <operator token>)
 *
 * Errors are `{ "error": { "code", "message", "field"? } }` with 400 (naming
 * the field), 403 (passcode), 404 (unknown meeting).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { JoinPath, Outcome, PhaseName } from "./join-report.js"
import { EndToEndMedia } from "./e2e.js"
import { MediaKeys } from "./media-keys.js"
import { MeetingId, Placement } from "./meeting.js"
import { ParticipantView } from "./mmr.js"
import { ControllerPresence, GeoPoint, MmrLoad, TunnelPresence } from "./zone.js"

/** @category requests */
export const CreateMeeting = Schema.Struct({
  topic: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  passcode: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(32))),
  /** End-to-end encrypted: its participants make its media keys, and nothing server-side can decrypt. */
  endToEnd: Schema.optional(Schema.Boolean),
})
export type CreateMeeting = typeof CreateMeeting.Type

/** @category responses */
export const MeetingView = Schema.Struct({
  id: MeetingId,
  topic: Schema.String,
  hasPasscode: Schema.Boolean,
  endToEnd: Schema.Boolean,
  joinUrl: Schema.String,
  createdAt: Schema.Number,
})
export type MeetingView = typeof MeetingView.Type

/** @category requests */
export const JoinInfoQuery = Schema.Struct({
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64))),
  passcode: Schema.optional(Schema.String),
})

/** @category responses */
export const ZoneInfo = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  location: GeoPoint,
  /** Great-circle distance from the client, when the client was located. */
  distanceKm: Schema.optional(Schema.Number),
  /** NATS endpoints the client should use for this zone. */
  nats: Schema.Array(Schema.String),
  /** Where Assign goes (the zone's controllers share it). */
  assignSubject: Schema.String,
  /** Live controllers, each probed on its own subject. */
  controllers: Schema.Array(Schema.Struct({ id: Schema.String, subject: Schema.String })),
})
export type ZoneInfo = typeof ZoneInfo.Type

/** @category responses */
export const TunnelInfo = Schema.Struct({ id: Schema.String, url: Schema.String })
export type TunnelInfo = typeof TunnelInfo.Type

/** @category responses */
export const JoinInfo = Schema.Struct({
  meeting: Schema.Struct({ id: MeetingId, topic: Schema.String }),
  participant: Schema.Struct({ id: Schema.String, name: Schema.String }),
  client: Schema.Struct({
    address: Schema.String,
    location: Schema.optional(GeoPoint),
    locatedBy: Schema.Literal("cidr-map", "geoip", "none"),
  }),
  /** Best first: nearest healthy zone, by Geo-IP. */
  zones: Schema.Array(ZoneInfo),
  tunnels: Schema.Array(TunnelInfo),
  /** Control requests over TLS (WebSocket), for clients that cannot reach NATS. */
  relay: Schema.String,
  webClientUrl: Schema.String,
  /** Where the meeting's roster events are published (joins, leaves, an MMR leaving). */
  meetingEvents: Schema.optional(Schema.String),
  joinToken: Schema.String,
  /** Epoch seconds. */
  expiresAt: Schema.Number,
  /**
   * The meeting's media keys (SRTP AEAD AES-256-GCM), for this admitted
   * participant only; absent when the deployment sends media in the clear.
   * For an end-to-end meeting: no key, only that its participants make them.
   */
  media: Schema.optional(Schema.Union(MediaKeys, EndToEndMedia)),
  /**
   * This join's own NATS identity, when the deployment's NATS has auth on: a
   * `.creds` text (user JWT and nkey seed) whose permissions reach this join's
   * zones, MMRs, its own inbox and its own meeting's events, expiring with the
   * join; replies come back under `inboxPrefix`.
   */
  natsCredentials: Schema.optional(
    Schema.Struct({
      creds: Schema.String,
      inboxPrefix: Schema.String,
      /** The CA of the NATS servers' certificates (PEM), when they take TLS only. */
      ca: Schema.optional(Schema.String),
    }),
  ),
})
export type JoinInfo = typeof JoinInfo.Type

/** @category responses */
export const ApiError = Schema.Struct({
  error: Schema.Struct({
    code: Schema.String,
    message: Schema.String,
    field: Schema.optional(Schema.String),
  }),
})
export type ApiError = typeof ApiError.Type

/**
 * How one join went, as a client tells the web lookup after it (best effort):
 * the join report without its per-attempt detail.
 *
 * @category requests
 */
export const JoinSummary = Schema.Struct({
  meeting: Schema.String.pipe(Schema.maxLength(64)),
  participant: Schema.optional(Schema.String.pipe(Schema.maxLength(64))),
  path: Schema.optional(JoinPath),
  /** "ok", or the tag of the error the join ended with: only these, since they become metric labels. */
  outcome: Schema.Literal("ok", "MeetingNotFound", "AccessDenied", "LookupFailed", "ZonesUnreachable", "NoMmrAvailable", "MediaUnreachable", "UseWebClient"),
  zone: Schema.optional(Schema.String.pipe(Schema.maxLength(64))),
  mmr: Schema.optional(Schema.String.pipe(Schema.maxLength(64))),
  totalMs: Schema.Number.pipe(Schema.nonNegative()),
  phases: Schema.Array(Schema.Struct({ name: PhaseName, ms: Schema.Number.pipe(Schema.nonNegative()), outcome: Outcome })).pipe(
    Schema.maxItems(16),
  ),
})
export type JoinSummary = typeof JoinSummary.Type

/** A join as the dashboard shows it: the summary and when it arrived. @category responses */
export const RecentJoin = Schema.Struct({ ...JoinSummary.fields, at: Schema.Number })
export type RecentJoin = typeof RecentJoin.Type

/** A participant as the dashboard shows it: what its MMR sees, and the path its join report named. @category responses */
export const OpsParticipant = Schema.Struct({ ...ParticipantView.fields, path: Schema.optional(JoinPath) })
export type OpsParticipant = typeof OpsParticipant.Type

/** A meeting someone is in (or whose MMR did not answer), as the dashboard shows it. @category responses */
export const OpsMeeting = Schema.Struct({
  id: MeetingId,
  /** From the meetings bucket; none when it was not found there. */
  topic: Schema.optional(Schema.String),
  createdAt: Schema.optional(Schema.Number),
  zone: Schema.String,
  mmr: Schema.String,
  /** false: its MMR did not answer in time, and who is in it is not known. */
  answered: Schema.Boolean,
  participants: Schema.Array(OpsParticipant),
})
export type OpsMeeting = typeof OpsMeeting.Type

/**
 * What the operators' dashboard shows: the live topology (from presence),
 * where meetings are placed, the meetings people are in (asked of each MMR),
 * the placements nobody is in, and the latest joins.
 *
 * @category responses
 */
export const OpsState = Schema.Struct({
  web: Schema.String,
  at: Schema.Number,
  zones: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      name: Schema.String,
      controllers: Schema.Array(ControllerPresence),
      mmrs: Schema.Array(Schema.Struct({ ...MmrLoad.fields, hosting: Schema.Array(Schema.String) })),
    }),
  ),
  tunnels: Schema.Array(TunnelPresence),
  placements: Schema.Array(Placement),
  meetings: Schema.Array(OpsMeeting),
  /** Placed, and their MMR says nobody is there (or the MMR is gone). */
  idle: Schema.Array(Placement),
  joins: Schema.Array(RecentJoin),
})
export type OpsState = typeof OpsState.Type
