/**
 * The join report: what every join returns, whether it succeeded or not —
 * per phase, what was tried, in what order, how long each took, why each
 * failed, and what was chosen. Times are ms since the join began.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @category schemas */
export const Outcome = Schema.Literal("ok", "failed", "timeout", "skipped")
export type Outcome = typeof Outcome.Type

/** @category schemas */
export const Attempt = Schema.Struct({
  /** What was tried: a URL, a controller, an MMR, a transport. */
  target: Schema.String,
  action: Schema.String,
  startMs: Schema.Number,
  ms: Schema.Number,
  outcome: Outcome,
  detail: Schema.optional(Schema.String),
})
export type Attempt = typeof Attempt.Type

/** How one zone fared in zone selection. @category schemas */
export const ZoneScore = Schema.Struct({
  zone: Schema.String,
  /** Rank the lookup gave it (0 = nearest). */
  rank: Schema.Int,
  sent: Schema.Int,
  answered: Schema.Int,
  latencyMs: Schema.optional(Schema.Number),
  jitterMs: Schema.optional(Schema.Number),
  loss: Schema.Number,
  /** Lower is better; absent when nothing answered. */
  score: Schema.optional(Schema.Number),
})
export type ZoneScore = typeof ZoneScore.Type

/** @category schemas */
export const PhaseName = Schema.Literal("lookup", "zone-selection", "mmr-selection", "media", "tunnel")
export type PhaseName = typeof PhaseName.Type

/** @category schemas */
export const Phase = Schema.Struct({
  name: PhaseName,
  startMs: Schema.Number,
  ms: Schema.Number,
  outcome: Outcome,
  attempts: Schema.Array(Attempt),
  chosen: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String),
  zones: Schema.optional(Schema.Array(ZoneScore)),
})
export type Phase = typeof Phase.Type

/** One media kind at the end of a session. @category schemas */
export const MediaKindReport = Schema.Struct({
  kind: Schema.Literal("audio", "video", "content"),
  transport: Schema.Literal("udp", "tcp", "tls", "tunnel"),
  /** The DSCP the socket was marked with (and whether the OS took it). */
  dscp: Schema.Int,
  marked: Schema.Boolean,
  local: Schema.String,
  sent: Schema.Int,
  received: Schema.Int,
  /** Packets received from each other participant. */
  receivedFrom: Schema.Record({ key: Schema.String, value: Schema.Int }),
  /** Fraction of packets lost, over everything received (RTP sequence numbers). */
  loss: Schema.Number,
  /** Mean interarrival jitter over the senders (RFC 3550). */
  jitterMs: Schema.Number,
  /** "open", or why the connection closed. */
  status: Schema.String,
  /**
   * RTCP (RFC 3550): compound packets sent and received on this kind; `up`,
   * what the MMR's latest receiver report said of our stream (loss in its
   * interval, cumulative lost, jitter); the round trip to the MMR from it.
   */
  rtcp: Schema.optional(
    Schema.Struct({
      sent: Schema.Int,
      received: Schema.Int,
      up: Schema.optional(Schema.Struct({ loss: Schema.Number, lost: Schema.Int, jitterMs: Schema.Number, rttMs: Schema.optional(Schema.Number) })),
      rttMs: Schema.optional(Schema.Number),
    }),
  ),
  /** Moves of this kind to another transport during the meeting (a lossy UDP path, and back); `atMs` since the join began. */
  changes: Schema.optional(
    Schema.Array(Schema.Struct({ atMs: Schema.Number, from: Schema.Literal("udp", "tcp", "tls"), to: Schema.Literal("udp", "tcp", "tls"), why: Schema.String })),
  ),
  /**
   * SRTP (AEAD AES-256-GCM): the epoch sent under at the end, and what the
   * receiver refused, by why; absent when the meeting's media is in the clear.
   */
  encryption: Schema.optional(
    Schema.Struct({
      profile: Schema.String,
      sendingEpoch: Schema.Int,
      epochs: Schema.Array(Schema.Int),
      decrypted: Schema.Int,
      authFailed: Schema.Int,
      replayed: Schema.Int,
      unknownEpoch: Schema.Int,
      malformed: Schema.Int,
      /** Packets held back for want of a key (end-to-end, before the leader's first key). */
      notSent: Schema.optional(Schema.Int),
      /** End-to-end: the meeting's keys are its participants' own; the code to compare aloud. */
      endToEnd: Schema.optional(
        Schema.Struct({
          securityCode: Schema.String,
          leader: Schema.optional(Schema.String),
          /** Epochs made as leader, keys taken from the leader, key messages refused (not the leader's, forged), key requests sent. */
          made: Schema.Int,
          taken: Schema.Int,
          refused: Schema.Int,
          requested: Schema.Int,
        }),
      ),
    }),
  ),
})
export type MediaKindReport = typeof MediaKindReport.Type

/** @category schemas */
export const JoinPath = Schema.Literal("direct", "proxy", "tunnel", "web-client")
export type JoinPath = typeof JoinPath.Type

/** @category schemas */
export const JoinReport = Schema.Struct({
  meeting: Schema.String,
  participant: Schema.optional(Schema.String),
  /** How the client is connected in the end; absent when the join failed. */
  path: Schema.optional(JoinPath),
  proxy: Schema.optional(Schema.String),
  zone: Schema.optional(Schema.String),
  mmr: Schema.optional(Schema.String),
  phases: Schema.Array(Phase),
  totalMs: Schema.Number,
  startedAt: Schema.String,
  /** Media per kind, filled in when the session ends. */
  media: Schema.optional(Schema.Array(MediaKindReport)),
  /** The session's moves to another MMR (its MMR stopped, died or froze), in order. */
  moves: Schema.optional(
    Schema.Array(
      Schema.Struct({
        from: Schema.String,
        to: Schema.optional(Schema.String),
        /** Since the join began. */
        atMs: Schema.Number,
        ms: Schema.Number,
        /** `unconfirmed`: the session found its MMR silent or mute, but the controllers checked and kept the meeting there; it stayed. */
        outcome: Schema.Literal("ok", "failed", "unconfirmed"),
        /**
         * Why: the MMR said it was leaving; it stopped answering (crash: nobody
         * listens; frozen: no answer); or it answers control but not media (mute).
         */
        reason: Schema.optional(Schema.Literal("leaving", "crash", "frozen", "mute")),
        detail: Schema.optional(Schema.String),
      }),
    ),
  ),
  /** When nothing else worked: where the browser web client is, and why each path failed. */
  webClient: Schema.optional(
    Schema.Struct({ url: Schema.String, reasons: Schema.Record({ key: Schema.String, value: Schema.String }) }),
  ),
})
export type JoinReport = typeof JoinReport.Type
