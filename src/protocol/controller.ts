/**
 * The zone controller's protocol.
 *
 *   Probe  → ProbeReply            the client's network performance test, answered at once
 *   Assign → Placement             the MMR hosting the meeting (placing it if need be)
 *          ✗ InvalidToken | NoCapacity | StoreUnavailable
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Protocol from "./Protocol.js"
import { StoreUnavailable } from "./errors.js"
import { MeetingId, Placement } from "./meeting.js"
import { InvalidToken } from "./token.js"

/** @category schemas */
export const ProbeReply = Schema.Struct({
  controller: Schema.String,
  zone: Schema.String,
  sample: Schema.Int,
})
export type ProbeReply = typeof ProbeReply.Type

/** @category requests */
export class Probe extends Schema.TaggedRequest<Probe>()("Probe", {
  payload: { client: Schema.String, sample: Schema.Int },
  success: ProbeReply,
  failure: Schema.Never,
}) {}

/**
 * No live MMR in the zone has room (or all are draining).
 *
 * @category errors
 */
export class NoCapacity extends Schema.TaggedError<NoCapacity>()("NoCapacity", {
  zone: Schema.String,
  /** Live MMRs the controller knows of in the zone. */
  liveMmrs: Schema.Int,
}) {
  override get message(): string {
    return `no MMR with room in zone ${this.zone} (${this.liveMmrs} live)`
  }
}

/** @category requests */
export class Assign extends Schema.TaggedRequest<Assign>()("Assign", {
  /**
   * `suspect`: an MMR the client finds silent (`evidence` "silent", the
   * default: its control subject does not answer) or mute (its control
   * answers, media does not). The controller checks it itself — its admin
   * subject, its media port, and for "mute" how many of the meeting's
   * participants say so — and only then places the meeting elsewhere.
   */
  payload: {
    meeting: MeetingId,
    token: Schema.String,
    suspect: Schema.optional(Schema.String),
    evidence: Schema.optional(Schema.Literal("silent", "mute")),
  },
  success: Placement,
  failure: Schema.Union(InvalidToken, NoCapacity, StoreUnavailable),
}) {}

/**
 * A participant's word that its media to `mmr` is mute: one controller heard
 * it (with the participant's join token) and tells the zone's others.
 *
 * @category schemas
 */
export const MuteReport = Schema.Struct({
  meeting: MeetingId,
  mmr: Schema.String,
  participant: Schema.String,
  /** The controller that heard it. */
  by: Schema.String,
})
export type MuteReport = typeof MuteReport.Type

/** @category protocols */
export const ZoneControllerProtocol = Protocol.make("zone-controller", Probe, Assign)
