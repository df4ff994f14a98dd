/**
 * Stream media connections (TCP, and TLS over TCP): RFC 4571 frames in both
 * directions, a bound on what may wait to be written (a slow receiver loses
 * packets instead of growing a buffer), and DSCP on the raw TCP socket — TLS
 * is layered on a TCP socket we keep so it can be marked.
 *
 * @since 0.1.0
 */
import type { Socket } from "node:net"
import { createServer } from "node:net"
import { TLSSocket, createSecureContext } from "node:tls"
import { Deframer } from "../../protocol/framing.js"
import type { TlsIdentity } from "../tls.js"
import { setDscp } from "./dscp.js"

/** @category models */
export interface StreamConnection {
  readonly remote: string
  readonly remoteAddress: string
  readonly remotePort: number
  /** Writes one whole frame; false (and nothing written) when over the high-water mark or closed. */
  readonly write: (framed: Buffer) => boolean
  readonly setDscp: (dscp: number) => void
  /** Idle timeout until the connection proves itself (bound). 0 turns it off. */
  readonly setIdleTimeout: (ms: number) => void
  readonly close: () => void
}

/** What a listener's owner does with one connection's packets. @category models */
export interface StreamHandlers {
  readonly onPacket: (packet: Buffer) => void
  /** A frame that is not RFC 4571; the connection is closed after this. */
  readonly onMalformed: () => void
  readonly onClose: () => void
}

/** @category models */
export interface StreamListener {
  readonly port: number
  readonly connections: () => number
  readonly close: () => Promise<void>
}

/** Wraps a connected socket pair (raw TCP, and the TLS socket if any). @category constructors */
export const connection = (
  raw: Socket,
  stream: Socket,
  handlers: (conn: StreamConnection) => StreamHandlers,
  highWater: number,
): StreamConnection => {
  const conn: StreamConnection = {
    remote: `${raw.remoteAddress}:${raw.remotePort}`,
    remoteAddress: raw.remoteAddress ?? "",
    remotePort: raw.remotePort ?? 0,
    write: (framed) => {
      if (stream.destroyed || !stream.writable || stream.writableLength > highWater) return false
      stream.write(framed)
      return true
    },
    setDscp: (dscp) => void setDscp(raw, dscp, raw.remoteFamily === "IPv6" ? 6 : 4),
    setIdleTimeout: (ms) => void raw.setTimeout(ms),
    close: () => {
      stream.destroy()
      raw.destroy()
    },
  }
  const h = handlers(conn)
  const deframer = new Deframer(h.onPacket)
  let closed = false
  const finish = () => {
    if (closed) return
    closed = true
    h.onClose()
  }
  stream.on("data", (chunk: Buffer) => {
    if (!deframer.push(chunk)) {
      h.onMalformed()
      conn.close()
    }
  })
  raw.setNoDelay(true)
  raw.on("timeout", () => conn.close())
  stream.on("error", () => conn.close())
  raw.on("error", () => conn.close())
  stream.on("close", finish)
  raw.on("close", finish)
  return conn
}

/**
 * Listens for TCP, or TLS when `tls` is given.
 *
 * @category constructors
 */
export const listen = (options: {
  readonly host: string
  readonly port: number
  readonly tls?: TlsIdentity
  /** Bytes that may wait to be written to one receiver. Default 256 KiB. */
  readonly highWater?: number
  readonly onConnection: (conn: StreamConnection) => StreamHandlers
}): Promise<StreamListener> =>
  new Promise((resolve, reject) => {
    const secureContext = options.tls === undefined ? undefined : createSecureContext({ cert: options.tls.cert, key: options.tls.key })
    const highWater = options.highWater ?? 256 * 1024
    const open = new Set<Socket>()
    const server = createServer((raw) => {
      open.add(raw)
      raw.once("close", () => open.delete(raw))
      if (secureContext === undefined) {
        connection(raw, raw, options.onConnection, highWater)
        return
      }
      const secure = new TLSSocket(raw, { isServer: true, secureContext })
      // A failed handshake is the peer's problem; it only closes this connection.
      secure.once("error", () => raw.destroy())
      raw.setTimeout(10_000) // the handshake and first packet must not take forever
      connection(raw, secure, options.onConnection, highWater)
    })
    server.once("error", reject)
    server.listen(options.port, options.host, () => {
      server.off("error", reject)
      server.on("error", () => {})
      const address = server.address()
      resolve({
        port: typeof address === "object" && address !== null ? address.port : options.port,
        connections: () => open.size,
        // server.close waits for every connection to end: end them, or a
        // listener with connected clients could never stop.
        close: () =>
          new Promise((done) => {
            server.close(() => done())
            for (const raw of open) raw.destroy()
          }),
      })
    })
  })
