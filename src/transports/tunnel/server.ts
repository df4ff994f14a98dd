/**
 * The tunnel's server side: one WebSocket per client session (protocol in
 * protocol/tunnel.ts). Pings are answered at once; nothing else is relayed
 * before the client's join token checks out. Control requests go onto the
 * ControlBus under the relay's policy; roster events of the client's meeting
 * come back; each media channel is a UDP socket to a live MMR's media port.
 *
 * Built on `ws` directly: media is relayed per packet from socket callbacks,
 * and `bufferedAmount` lets a slow client lose packets (counted) instead of
 * growing a buffer.
 *
 * @since 0.1.0
 */
import type { Socket as UdpSocket } from "node:dgram"
import { createSocket } from "node:dgram"
import { isIPv6 } from "node:net"
import { Deferred, Effect, Either, Exit, FiberSet, Schema, Scope } from "effect"
import type { WebSocket, WebSocketServer } from "ws"
import type { MediaKind } from "../../protocol/media.js"
import type { RelayPolicy } from "../../protocol/relay.js"
import type { JoinClaims, JoinTokensShape } from "../../protocol/token.js"
import { ClientMessage, MAX_OPEN_CHANNELS } from "../../protocol/tunnel.js"
import type { TunnelMessage } from "../../protocol/tunnel.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import { setDscp } from "../media/dscp.js"
import { forward } from "../relay/forward.js"

const decodeMessage = Schema.decodeUnknownEither(Schema.parseJson(ClientMessage))
const kindOfChannel: ReadonlyArray<MediaKind> = ["audio", "video", "content"]

/** @category models */
export interface TunnelOptions {
  readonly id: string
  readonly bus: ControlBusShape
  readonly policy: RelayPolicy
  readonly tokens: JoinTokensShape
  readonly rosterSubject: (meeting: string) => string
  /** Is host:port the UDP media port of a live MMR? (The tunnel is no open relay.) */
  readonly isMediaTarget: (host: string, port: number) => Effect.Effect<boolean>
  readonly dscp: Readonly<Record<MediaKind, number>>
  /** Bytes that may wait for one client before its media is dropped. Default 1 MiB. */
  readonly maxBuffered?: number
}

/** @category models */
export interface TunnelStats {
  sessions: number
  sessionsTotal: number
  channels: number
  packetsUp: number
  packetsDown: number
  /** Media not sent to a client that fell behind, or for a channel not open. */
  dropped: number
  refused: number
  badMessages: number
}

/**
 * Serves every connection of `wss` until it closes.
 *
 * @category serving
 */
export const attach = (wss: WebSocketServer, options: TunnelOptions): Effect.Effect<TunnelStats, never, Scope.Scope> =>
  Effect.gen(function* () {
    const stats: TunnelStats = {
      sessions: 0,
      sessionsTotal: 0,
      channels: 0,
      packetsUp: 0,
      packetsDown: 0,
      dropped: 0,
      refused: 0,
      badMessages: 0,
    }
    const maxBuffered = options.maxBuffered ?? 1024 * 1024
    // Each connection is a fiber of the tunnel's scope; its own work (hello, requests, media) runs in fibers of the connection's.
    const serve = yield* FiberSet.makeRuntime<never>()

    const connection = (ws: WebSocket) =>
      Effect.gen(function* () {
        stats.sessions++
        stats.sessionsTotal++
        let claims: JoinClaims | undefined
        let token = ""
        const channels = new Map<number, UdpSocket>()
        const scope = yield* Effect.scope
        const run = yield* FiberSet.makeRuntime<never>()
        const closed = yield* Deferred.make<void>()
        const say = (m: TunnelMessage) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m))
        }

        const openChannel = (channel: number, kind: MediaKind | undefined, host: string, port: number) =>
          Effect.gen(function* () {
            if (claims === undefined) return say({ type: "media-refused", channel, detail: "say hello first" })
            const ofKind = kind ?? kindOfChannel[channel]
            if (ofKind === undefined) return say({ type: "media-refused", channel, detail: `channel ${channel} needs a kind` })
            if (!channels.has(channel) && channels.size >= MAX_OPEN_CHANNELS) {
              stats.refused++
              return say({ type: "media-refused", channel, detail: `at most ${MAX_OPEN_CHANNELS} media channels at once` })
            }
            if (!(yield* options.isMediaTarget(host, port))) {
              stats.refused++
              return say({ type: "media-refused", channel, detail: `${host}:${port} is not a live MMR's media port` })
            }
            channels.get(channel)?.close()
            const udp = createSocket(isIPv6(host) ? "udp6" : "udp4")
            udp.on("error", () => void stats.dropped++)
            udp.on("message", (packet) => {
              if (ws.readyState !== ws.OPEN || ws.bufferedAmount > maxBuffered) {
                stats.dropped++
                return
              }
              const frame = Buffer.allocUnsafe(packet.length + 1)
              frame[0] = channel
              packet.copy(frame, 1)
              ws.send(frame)
              stats.packetsDown++
            })
            yield* Effect.async<void>((resume) => udp.connect(port, host, () => resume(Effect.void)))
            setDscp(udp, options.dscp[ofKind], isIPv6(host) ? 6 : 4)
            channels.set(channel, udp)
            stats.channels++
            say({ type: "media-open", channel })
          })

        const onText = (text: string) => {
          const decoded = decodeMessage(text)
          if (Either.isLeft(decoded)) {
            stats.badMessages++
            return say({ type: "error", detail: `bad message: ${decoded.left.message.slice(0, 200)}` })
          }
          const m = decoded.right
          switch (m.type) {
            case "ping":
              return say({ type: "pong", id: m.id, tunnel: options.id })
            case "hello":
              run(
                options.tokens.verify(m.token).pipe(
                  Effect.tap((c) =>
                    Effect.gen(function* () {
                      const first = claims === undefined
                      claims = c
                      token = m.token
                      say({ type: "welcome", meeting: c.meeting, participant: c.participant })
                      if (!first) return
                      // Roster changes of the client's meeting, as they happen.
                      yield* options.bus
                        .subscribe(options.rosterSubject(c.meeting), {}, (e) =>
                          say({ type: "event", subject: e.subject, data: Buffer.from(e.data).toString("base64") }),
                        )
                        .pipe(Scope.extend(scope), Effect.ignore)
                    }),
                  ),
                  Effect.catchAll((e) => Effect.sync(() => say({ type: "error", detail: e.message }))),
                ),
              )
              return
            case "request":
              if (claims === undefined) return say({ type: "reply", id: m.id, error: { _tag: "Forbidden", detail: "say hello first" } })
              run(Effect.flatMap(forward(options.bus, options.policy, m, { token, claims }), (answer) => Effect.sync(() => say({ type: "reply", id: m.id, ...answer }))))
              return
            case "media":
              run(openChannel(m.channel, m.kind, m.host, m.port))
              return
            case "close-media":
              channels.get(m.channel)?.close()
              channels.delete(m.channel)
              return
          }
        }

        ws.on("message", (data: Buffer, isBinary: boolean) => {
          if (!isBinary) return onText(data.toString("utf8"))
          const udp = channels.get(data[0]!)
          if (udp === undefined || data.length < 2) {
            stats.dropped++
            return
          }
          udp.send(data.subarray(1))
          stats.packetsUp++
        })
        ws.on("error", () => ws.terminate())
        ws.on("close", () => Deferred.unsafeDone(closed, Exit.void))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            stats.sessions--
            for (const udp of channels.values()) udp.close()
            stats.channels -= channels.size
            channels.clear()
            ws.terminate()
          }),
        )
        yield* Deferred.await(closed)
      }).pipe(Effect.scoped)

    wss.on("connection", (ws: WebSocket) => void serve(connection(ws)))
    return stats
  })
