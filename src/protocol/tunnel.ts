/**
 * The HTTP tunnel's protocol: a client's whole session inside one TLS
 * WebSocket, for networks where only HTTPS gets through.
 *
 * Text frames are JSON, one message each:
 *
 *   client → tunnel
 *     {"type":"ping","id":1}                                    answered even before hello
 *     {"type":"hello","token":"<join token>"}                   nothing else is relayed before it
 *     {"type":"request","id":2,"subject":"…","data":"<b64>","timeoutMs":2000}
 *     {"type":"media","channel":0,"kind":"audio","host":"10.0.0.5","port":8801}
 *                                                               open a media channel to an MMR
 *     {"type":"close-media","channel":0}
 *   tunnel → client
 *     {"type":"pong","id":1,"tunnel":"t1"}
 *     {"type":"welcome","meeting":"…","participant":"…"}
 *     {"type":"reply","id":2,"data":"<b64>"} | {"type":"reply","id":2,"error":{…}}
 *     {"type":"media-open","channel":0} | {"type":"media-refused","channel":0,"detail":"…"}
 *     {"type":"event","subject":"…","data":"<b64>"}             roster changes of the client's meeting
 *     {"type":"error","detail":"…"}
 *
 * Binary frames carry media: byte 0 is the channel, the rest one packet
 * (STUN or RTP), relayed to and from the MMR's UDP media port.
 *
 * A client picks a fresh channel number for each channel it opens, so that
 * moving a kind to another MMR (open the new, then close the old) never
 * closes the new one. Channels 0, 1, 2 without `kind` are audio, video,
 * content (the first clients' numbering). A connection has at most
 * `MAX_OPEN_CHANNELS` open at once.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { MediaKind } from "./media.js"
import { RelayFailure } from "./relay.js"

/** Each kind's first channel (and the kind of channels 0–2 opened without one). @category constants */
export const channelOf = { audio: 0, video: 1, content: 2 } as const
/** The highest channel number a tunnel frame may carry. @category constants */
export const MAX_CHANNEL = 255
/** Channels a connection may have open at once: every kind, twice over (during a move). @category constants */
export const MAX_OPEN_CHANNELS = 6

/** @category schemas */
export const ClientMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("ping"), id: Schema.Int }),
  Schema.Struct({ type: Schema.Literal("hello"), token: Schema.String.pipe(Schema.maxLength(4096)) }),
  Schema.Struct({
    type: Schema.Literal("request"),
    id: Schema.Int,
    subject: Schema.String.pipe(Schema.maxLength(256)),
    data: Schema.String.pipe(Schema.maxLength(64 * 1024)),
    timeoutMs: Schema.Int.pipe(Schema.between(1, 30_000)),
  }),
  Schema.Struct({
    type: Schema.Literal("media"),
    channel: Schema.Int.pipe(Schema.between(0, MAX_CHANNEL)),
    kind: Schema.optional(MediaKind),
    host: Schema.String.pipe(Schema.maxLength(255)),
    port: Schema.Int.pipe(Schema.between(1, 65535)),
  }),
  Schema.Struct({ type: Schema.Literal("close-media"), channel: Schema.Int.pipe(Schema.between(0, MAX_CHANNEL)) }),
)
export type ClientMessage = typeof ClientMessage.Type

/** @category schemas */
export const TunnelMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("pong"), id: Schema.Int, tunnel: Schema.String }),
  Schema.Struct({ type: Schema.Literal("welcome"), meeting: Schema.String, participant: Schema.String }),
  Schema.Struct({ type: Schema.Literal("reply"), id: Schema.Int, data: Schema.String }),
  Schema.Struct({ type: Schema.Literal("reply"), id: Schema.Int, error: RelayFailure }),
  Schema.Struct({ type: Schema.Literal("media-open"), channel: Schema.Int }),
  Schema.Struct({ type: Schema.Literal("media-refused"), channel: Schema.Int, detail: Schema.String }),
  Schema.Struct({ type: Schema.Literal("event"), subject: Schema.String, data: Schema.String }),
  Schema.Struct({ type: Schema.Literal("error"), detail: Schema.String }),
)
export type TunnelMessage = typeof TunnelMessage.Type
