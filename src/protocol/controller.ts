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
   * `suspect`: an MMR the client finds silent. The controller checks it
   * itself; when it does not answer either, the meeting is placed elsewhere.
   */
  payload: { meeting: MeetingId, token: Schema.String, suspect: Schema.optional(Schema.String) },
  success: Placement,
  failure: Schema.Union(InvalidToken, NoCapacity, StoreUnavailable),
}) {}

/** @category protocols */
export const ZoneControllerProtocol = Protocol.make("zone-controller", Probe, Assign)
