/**
 * Zones, their live members, and what MMRs say about their load.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Token } from "./subjects.js"

/**
 * A point on Earth, in degrees.
 *
 * @category schemas
 */
export const GeoPoint = Schema.Struct({
  lat: Schema.Number.pipe(Schema.between(-90, 90)),
  lon: Schema.Number.pipe(Schema.between(-180, 180)),
})
export type GeoPoint = typeof GeoPoint.Type

/**
 * Where an MMR takes media (filled in by the media plane; absent before it).
 *
 * @category schemas
 */
export const MediaEndpoints = Schema.Struct({
  host: Schema.String,
  /** UDP and TCP on one port (8801 in production). */
  port: Schema.Int,
  /** TLS (443 in production). */
  tlsPort: Schema.Int,
})
export type MediaEndpoints = typeof MediaEndpoints.Type

const Count = Schema.Int.pipe(Schema.nonNegative())

/**
 * What an MMR reports every second: published to its zone's controllers and
 * kept as its presence (with TTL) for the web tier.
 *
 * @category schemas
 */
export const MmrLoad = Schema.Struct({
  mmr: Token,
  zone: Token,
  /** Its control subject. */
  subject: Schema.String,
  meetings: Count,
  participants: Count,
  /** Participants it will take. */
  capacity: Schema.Int.pipe(Schema.positive()),
  /** Process CPU use, 0..1 of one core. */
  cpu: Schema.Number.pipe(Schema.nonNegative()),
  packetsPerSecond: Schema.Number.pipe(Schema.nonNegative()),
  /** Draining: no new meetings. */
  draining: Schema.Boolean,
  /** Stopping: its meetings move to other MMRs (controllers re-place them). */
  leaving: Schema.optional(Schema.Boolean),
  media: Schema.optional(MediaEndpoints),
  /** Epoch ms at the MMR when it sent this. */
  at: Schema.Number,
})
export type MmrLoad = typeof MmrLoad.Type

/**
 * Presence records in the presence bucket (they vanish with the bucket's TTL
 * unless renewed).
 *
 * @category schemas
 */
export const ControllerPresence = Schema.Struct({
  kind: Schema.Literal("controller"),
  zone: Token,
  id: Token,
  subject: Schema.String,
  at: Schema.Number,
})
export type ControllerPresence = typeof ControllerPresence.Type

/** An MMR's presence record: its last load report. @category schemas */
export const MmrPresence = Schema.Struct({
  kind: Schema.Literal("mmr"),
  load: MmrLoad,
})
/** @category models */
export type MmrPresence = typeof MmrPresence.Type

/** A tunnel's presence record: where clients dial it, and its sessions. @category schemas */
export const TunnelPresence = Schema.Struct({
  kind: Schema.Literal("tunnel"),
  id: Token,
  /** What clients dial, e.g. `wss://tunnel-1.example:443/tunnel`. */
  url: Schema.String,
  sessions: Count,
  at: Schema.Number,
})
/** @category models */
export type TunnelPresence = typeof TunnelPresence.Type

/** Any presence record (controller, MMR or tunnel). @category schemas */
export const Presence = Schema.Union(ControllerPresence, MmrPresence, TunnelPresence)
/** @category models */
export type Presence = typeof Presence.Type
