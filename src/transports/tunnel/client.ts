/**
 * The tunnel's client side: one WebSocket (through an HTTP proxy with
 * CONNECT when there is one) carrying control requests — as a ControlBus —
 * media channels — as MediaSockets — and the meeting's roster events.
 *
 * @since 0.1.0
 */
import { Data, Effect, Either, Schema } from "effect"
import WebSocket from "ws"
import type { MediaKind } from "../../protocol/media.js"
import type { TunnelMessage } from "../../protocol/tunnel.js"
import { MAX_CHANNEL, TunnelMessage as TunnelMessageSchema, channelOf } from "../../protocol/tunnel.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import type { MediaSocket } from "../media/client.js"
import type { WebSocketConnect } from "../websocket.js"
import { clientOptions } from "../websocket.js"
import * as Requests from "../relay/requests.js"

const decode = Schema.decodeUnknownEither(Schema.parseJson(TunnelMessageSchema))

/** @category errors */
export class TunnelError extends Data.TaggedError("TunnelError")<{ readonly url: string; readonly detail: string }> {
  override get message(): string {
    return `tunnel ${this.url}: ${this.detail}`
  }
}

/** @category models */
export interface TunnelConnection {
  /** The tunnel's id, from its pong. */
  readonly tunnel: string
  readonly url: string
  /** From sending the ping to its pong. */
  readonly rttMs: number
  /** Presents the join token; nothing else is relayed before. */
  readonly hello: (token: string) => Effect.Effect<{ readonly meeting: string; readonly participant: string }, TunnelError>
  /** Control requests through the tunnel. */
  readonly bus: ControlBusShape
  /** A media channel for `kind` to an MMR's UDP media port. */
  readonly openMedia: (kind: MediaKind, host: string, port: number) => Effect.Effect<MediaSocket, TunnelError>
  readonly onEvent: (handler: (subject: string, data: Buffer) => void) => void
  readonly close: () => void
}

/**
 * Connects and pings; succeeds when the tunnel answers. The caller closes it.
 *
 * @category connecting
 */
export const connect = (
  url: string,
  options: WebSocketConnect,
): Effect.Effect<TunnelConnection, TunnelError> =>
  Effect.async<TunnelConnection, TunnelError>((resume) => {
    const failed = (detail: string) => new TunnelError({ url, detail })
    const ws = new WebSocket(url, clientOptions(options.tls ?? {}, options.proxy, options.timeoutMs))
    const say = (m: object) => ws.send(JSON.stringify(m))
    let settled = false
    const pingId = 1
    let pingAt = 0
    const requests = Requests.make("tunnel", "tunnel", (request) => say({ type: "request", ...request }))
    const hellos: Array<(m: TunnelMessage) => void> = []
    const channels = new Map<number, { packet: (p: Buffer) => void; closed: (reason: string) => void; opened?: (m: TunnelMessage) => void }>()
    const events: Array<(subject: string, data: Buffer) => void> = []
    const timer = setTimeout(() => fail(`no pong in ${options.timeoutMs} ms`), options.timeoutMs)

    const fail = (detail: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      ws.terminate()
      resume(Effect.fail(failed(detail)))
    }
    const lost = (reason: string) => {
      requests.lost(reason)
      for (const [, c] of channels) c.closed(`tunnel: ${reason}`)
      channels.clear()
    }

    ws.on("open", () => {
      pingAt = performance.now()
      say({ type: "ping", id: pingId })
    })
    ws.on("error", (e: Error) => (settled ? lost(e.message) : fail(e.message)))
    ws.on("close", () => (settled ? lost("closed") : fail("closed before answering")))
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        channels.get(data[0]!)?.packet(data.subarray(1))
        return
      }
      const decoded = decode(data.toString("utf8"))
      if (Either.isLeft(decoded)) return
      const m = decoded.right
      switch (m.type) {
        case "pong":
          if (m.id !== pingId || settled) return
          settled = true
          clearTimeout(timer)
          resume(Effect.succeed(connection(m.tunnel, performance.now() - pingAt)))
          return
        case "welcome":
        case "error":
          for (const h of hellos.splice(0)) h(m)
          return
        case "reply":
          requests.answer(m.id, m)
          return
        case "media-open":
        case "media-refused":
          channels.get(m.channel)?.opened?.(m)
          return
        case "event":
          for (const h of events) h(m.subject, Buffer.from(m.data, "base64"))
          return
      }
    })

    const bus = requests.bus
    /** A channel number no open channel has: the kind's own first, then the next free (a move opens before it closes). */
    const freeChannel = (kind: MediaKind) => {
      if (!channels.has(channelOf[kind])) return channelOf[kind]
      for (let n = 3; n <= MAX_CHANNEL; n++) if (!channels.has(n)) return n
      return channelOf[kind] // never: the tunnel takes at most MAX_OPEN_CHANNELS at once
    }

    const connection = (tunnel: string, rttMs: number): TunnelConnection => ({
      tunnel,
      url,
      rttMs,
      bus,
      hello: (token) =>
        Effect.async((done) => {
          hellos.push((m) =>
            done(
              m.type === "welcome"
                ? Effect.succeed({ meeting: m.meeting, participant: m.participant })
                : Effect.fail(failed(m.type === "error" ? m.detail : "unexpected answer to hello")),
            ),
          )
          say({ type: "hello", token })
        }),
      openMedia: (kind, host, port) =>
        Effect.async((done) => {
          const channel = freeChannel(kind)
          let packetHandler: (p: Buffer) => void = () => {}
          const closeHandlers: Array<(reason: string) => void> = []
          let closed = false
          const socket: MediaSocket = {
            transport: "tunnel",
            local: `${url}#${kind}`,
            marked: false, // the TLS connection carries every kind; only the tunnel's UDP hop is marked
            send: (packet) => {
              if (closed || ws.readyState !== ws.OPEN || ws.bufferedAmount > 1024 * 1024) return false
              const frame = Buffer.allocUnsafe(packet.length + 1)
              frame[0] = channel
              packet.copy(frame, 1)
              ws.send(frame)
              return true
            },
            onPacket: (h) => void (packetHandler = h),
            onClose: (h) => void closeHandlers.push(h),
            close: () => {
              if (closed) return
              closed = true
              channels.delete(channel)
              if (ws.readyState === ws.OPEN) say({ type: "close-media", channel })
              for (const h of closeHandlers) h("closed")
            },
          }
          channels.set(channel, {
            packet: (p) => packetHandler(p),
            closed: (reason) => {
              closed = true
              for (const h of closeHandlers) h(reason)
            },
            opened: (m) => {
              if (m.type !== "media-open") channels.delete(channel)
              done(m.type === "media-open" ? Effect.succeed(socket) : Effect.fail(failed(m.type === "media-refused" ? m.detail : "refused")))
            },
          })
          say({ type: "media", channel, kind, host, port })
        }),
      onEvent: (h) => void events.push(h),
      close: () => ws.close(),
    })

    return Effect.sync(() => {
      clearTimeout(timer)
      if (!settled) {
        settled = true
        ws.terminate()
      }
    })
  })
