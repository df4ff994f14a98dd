/**
 * Media kinds, transports, and the constants each kind travels with: its
 * DSCP mark (RFC 4594 classes), its RTP clock rate and payload type.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @category schemas */
export const MediaKind = Schema.Literal("audio", "video", "content")
export type MediaKind = typeof MediaKind.Type
/** Every media kind, in the order reports list them. @category constants */
export const mediaKinds: ReadonlyArray<MediaKind> = ["audio", "video", "content"]

/** Best first: UDP, else TCP, else TLS. @category schemas */
export const MediaTransport = Schema.Literal("udp", "tcp", "tls")
export type MediaTransport = typeof MediaTransport.Type
/** Media transports, best first: the fallback order. @category constants */
export const transportOrder: ReadonlyArray<MediaTransport> = ["udp", "tcp", "tls"]

/**
 * Default DSCP per kind: audio EF (46), video AF41 (34), content AF31 (26).
 *
 * @category defaults
 */
export const defaultDscp: Readonly<Record<MediaKind, number>> = { audio: 46, video: 34, content: 26 }

/** RTP clock rates: Opus audio at 48 kHz, video at 90 kHz. @category defaults */
export const clockRate: Readonly<Record<MediaKind, number>> = { audio: 48_000, video: 90_000, content: 90_000 }

/** Dynamic payload types (as an SDP would map them). @category defaults */
export const payloadType: Readonly<Record<MediaKind, number>> = { audio: 111, video: 96, content: 97 }

/** Per-kind RTP stream identifiers a participant declares at join. @category schemas */
export const Ssrcs = Schema.Struct({
  audio: Schema.optional(Schema.Int),
  video: Schema.optional(Schema.Int),
  content: Schema.optional(Schema.Int),
})
export type Ssrcs = typeof Ssrcs.Type
