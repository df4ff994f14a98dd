/**
 * The client's media sockets: UDP (connected to the MMR, so nothing else gets
 * in), TCP, or TLS — directly or through an HTTP proxy. Each is marked with
 * its DSCP before the first byte leaves. Packets are whole: stream transports
 * frame and deframe (RFC 4571) here.
 *
 * @since 0.1.0
 */
import { createSocket } from "node:dgram"
import type { Socket } from "node:net"
import { connect as tcpConnect, isIPv6 } from "node:net"
import { checkServerIdentity, connect as tlsConnect } from "node:tls"
import { Deframer, frame } from "../../protocol/framing.js"
import type { MediaTransport } from "../../protocol/media.js"
import type { ProxyTarget } from "../proxy.js"
import { connectVia } from "../proxy.js"
import { setDscp } from "./dscp.js"

/** @category models */
export interface MediaSocket {
  /** How the packets travel: straight to the MMR, or inside the HTTP tunnel. */
  readonly transport: MediaTransport | "tunnel"
  /** `address:port` of our end. */
  readonly local: string
  /** Whether the DSCP mark took. */
  readonly marked: boolean
  readonly send: (packet: Buffer) => boolean
  readonly onPacket: (handler: (packet: Buffer) => void) => void
  readonly onClose: (handler: (reason: string) => void) => void
  readonly close: () => void
}

const closeHandlers = () => {
  const handlers: Array<(reason: string) => void> = []
  let fired = false
  return {
    add: (h: (reason: string) => void) => void handlers.push(h),
    fire: (reason: string) => {
      if (fired) return
      fired = true
      for (const h of handlers) h(reason)
    },
  }
}

/** @category connecting */
export const openUdp = (options: { host: string; port: number; dscp: number }): Promise<MediaSocket> =>
  new Promise((resolve, reject) => {
    const family = isIPv6(options.host) ? 6 : 4
    const socket = createSocket(family === 6 ? "udp6" : "udp4")
    const closed = closeHandlers()
    let packetHandler: (packet: Buffer) => void = () => {}
    let isClosed = false
    socket.once("error", reject)
    socket.connect(options.port, options.host, () => {
      socket.off("error", reject)
      // ICMP unreachable surfaces as ECONNREFUSED on a connected socket: the path is closed.
      socket.on("error", (e) => closed.fire(e.message))
      const marked = setDscp(socket, options.dscp, family)
      socket.on("message", (m) => packetHandler(m))
      const address = socket.address()
      resolve({
        transport: "udp",
        local: `${address.address}:${address.port}`,
        marked,
        send: (packet) => {
          socket.send(packet)
          return true
        },
        onPacket: (h) => void (packetHandler = h),
        onClose: closed.add,
        // Idempotent: a session may close for silence and again on its way out.
        close: () => {
          if (isClosed) return
          isClosed = true
          closed.fire("closed")
          socket.close()
        },
      })
    })
  })

/** `socket` once it emits `ready` (connected, handshaken); its error, or a timeout after `timeoutMs`, otherwise. */
const settled = <S extends Socket>(socket: S, ready: "connect" | "secureConnect", timeoutMs: number, what: string): Promise<S> =>
  new Promise<S>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`${what} timed out`))
    }, timeoutMs)
    socket.once(ready, () => {
      clearTimeout(timer)
      socket.removeAllListeners("error")
      resolve(socket)
    })
    socket.once("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })

/**
 * TCP, or TLS when `tls` is given; through `proxy` when given (CONNECT).
 *
 * @category connecting
 */
export const openStream = (options: {
  readonly host: string
  readonly port: number
  readonly dscp: number
  readonly timeoutMs: number
  readonly tls?: { readonly ca?: string; readonly insecure?: boolean; readonly servername?: string }
  readonly proxy?: ProxyTarget
  /** Bytes that may wait to be written before packets are dropped. Default 256 KiB. */
  readonly highWater?: number
}): Promise<MediaSocket> =>
  (async () => {
    const raw: Socket =
      options.proxy !== undefined
        ? await connectVia(options.proxy, options.host, options.port, options.timeoutMs)
        : await settled(tcpConnect(options.port, options.host), "connect", options.timeoutMs, `TCP connect to ${options.host}:${options.port}`)
    raw.setNoDelay(true)
    const marked = setDscp(raw, options.dscp, raw.remoteFamily === "IPv6" ? 6 : 4)
    const stream: Socket =
      options.tls === undefined
        ? raw
        : await settled(
            tlsConnect({
              socket: raw,
              servername: options.tls!.servername ?? (isIPv6(options.host) || /^[\d.]+$/.test(options.host) ? undefined : options.host),
              ...(options.tls!.ca !== undefined ? { ca: options.tls!.ca } : {}),
              rejectUnauthorized: options.tls!.insecure !== true,
              // Certificates name IPs too: check against the host we meant, not the proxy's.
              checkServerIdentity: (_host, cert) => checkServerIdentity(options.host, cert),
            }),
            "secureConnect",
            options.timeoutMs,
            `TLS handshake with ${options.host}:${options.port}`,
          ).catch((e: unknown) => {
            raw.destroy()
            throw e
          })
    const closed = closeHandlers()
    let packetHandler: (packet: Buffer) => void = () => {}
    const deframer = new Deframer((p) => packetHandler(p))
    const highWater = options.highWater ?? 256 * 1024
    stream.on("data", (chunk: Buffer) => {
      if (!deframer.push(chunk)) {
        closed.fire("malformed frame from the MMR")
        stream.destroy()
      }
    })
    stream.on("error", (e) => closed.fire(e.message))
    stream.on("close", () => closed.fire("connection closed"))
    return {
      transport: options.tls === undefined ? "tcp" : "tls",
      local: `${raw.localAddress}:${raw.localPort}`,
      marked,
      send: (packet) => {
        if (stream.destroyed || stream.writableLength > highWater) return false
        stream.write(frame(packet))
        return true
      },
      onPacket: (h) => void (packetHandler = h),
      onClose: closed.add,
      close: () => {
        closed.fire("closed")
        stream.destroy()
      },
    } satisfies MediaSocket
  })()
