/**
 * The client relay: control requests over one TLS WebSocket, for clients that
 * cannot reach NATS (behind an HTTP proxy, only TLS open, browsers). The
 * relay forwards a request to a subject and returns the actor's reply bytes
 * untouched, so the client reads them exactly as it would over NATS.
 *
 *   client → relay  {"id":1,"subject":"mz.zone.eu.controller.c1","data":"<base64>","timeoutMs":1000}
 *   relay → client  {"id":1,"data":"<base64 reply>"}
 *                   {"id":1,"error":{"_tag":"RequestTimeout"|"NoResponders"|"Forbidden"|"Overloaded"|"BadRequest"|"BusError","detail":"…"}}
 *
 *   relay → client  {"event":"mz.meeting.123.roster","data":"<base64 RosterEvent>"}
 *                   the events of the token's meeting (joins, leaves, its MMR leaving), as they happen
 *
 * Only the requests a client may make pass: Probe and Assign to controllers;
 * Join, Leave, Roster, MediaStats, MediaTokens and Signal to MMRs.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @category schemas */
export const RelayRequest = Schema.Struct({
  id: Schema.Int.pipe(Schema.nonNegative()),
  subject: Schema.String.pipe(Schema.maxLength(256)),
  data: Schema.String.pipe(Schema.maxLength(64 * 1024)),
  timeoutMs: Schema.Int.pipe(Schema.between(1, 30_000)),
})
export type RelayRequest = typeof RelayRequest.Type

/** @category schemas */
export const RelayFailure = Schema.Struct({
  _tag: Schema.Literal("RequestTimeout", "NoResponders", "Forbidden", "Overloaded", "BadRequest", "BusError"),
  detail: Schema.String,
})
export type RelayFailure = typeof RelayFailure.Type

/** @category schemas */
export const RelayReply = Schema.Union(
  Schema.Struct({ id: Schema.Int, data: Schema.String }),
  Schema.Struct({ id: Schema.NullOr(Schema.Int), error: RelayFailure }),
)
export type RelayReply = typeof RelayReply.Type

/** An event of the client's own meeting, pushed by the relay. @category schemas */
export const RelayEvent = Schema.Struct({ event: Schema.String, data: Schema.String })
export type RelayEvent = typeof RelayEvent.Type

/** Anything the relay sends. @category schemas */
export const RelayMessage = Schema.Union(RelayEvent, RelayReply)
export type RelayMessage = typeof RelayMessage.Type

/** Which requests a client may send where. @category policy */
export interface RelayPolicy {
  readonly allows: (subject: string, tag: string) => boolean
}

/**
 * The client policy for subjects under `prefix`.
 *
 * @category policy
 */
export const clientPolicy = (prefix: string): RelayPolicy => {
  const p = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  const token = "[A-Za-z0-9_-]+"
  const rules: ReadonlyArray<readonly [RegExp, ReadonlySet<string>]> = [
    [new RegExp(`^${p}\\.zone\\.${token}\\.controller\\.${token}$`), new Set(["Probe", "Assign"])],
    [new RegExp(`^${p}\\.zone\\.${token}\\.assign$`), new Set(["Assign"])],
    [new RegExp(`^${p}\\.mmr\\.${token}$`), new Set(["Join", "Leave", "Roster", "MediaStats", "MediaTokens", "Signal"])],
  ]
  return { allows: (subject, tag) => rules.some(([pattern, tags]) => pattern.test(subject) && tags.has(tag)) }
}
