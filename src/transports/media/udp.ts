/**
 * A UDP media port: one socket that receives every datagram for the port and
 * sends with a per-packet DSCP. With the native data path (native-udp.ts)
 * datagrams come in by batches (recvmmsg) and what one batch forwards goes
 * out in one sendmmsg, each datagram carrying its own IP_TOS; without it
 * (no addon, or IPv6), dgram receives and sends one by one and IP_TOS is
 * switched when the mark changes (one socket carries every media kind).
 *
 * @since 0.1.0
 */
import type { Socket } from "node:dgram"
import { createSocket } from "node:dgram"
import { isIPv6 } from "node:net"
import { setDscp } from "./dscp.js"
import * as NativeUdp from "./native-udp.js"

/** @category models */
export interface UdpPort {
  readonly port: number
  readonly send: (packet: Buffer, port: number, address: string, dscp: number) => void
  readonly close: () => Promise<void>
  /** Send errors and datagrams the kernel did not take, so far (never thrown at the forwarding loop). */
  readonly errors: () => number
  /** On the native data path (recvmmsg/sendmmsg), or Node's dgram. */
  readonly native: boolean
}

/** @category constructors */
export const open = (options: {
  readonly host: string
  readonly port: number
  /** Each datagram in; `packet` is valid only during the call (the native path reuses its memory): copy what you keep. */
  readonly onMessage: (packet: Buffer, address: string, port: number) => void
  /** Kernel buffer sizes; bursts of video need room. Default 4 MiB. */
  readonly bufferBytes?: number
}): Promise<UdpPort> =>
  new Promise((resolve, reject) => {
    const bytes = options.bufferBytes ?? 4 * 1024 * 1024
    let native: NativeUdp.NativePort | undefined
    try {
      native = NativeUdp.open({ host: options.host, port: options.port, bufferBytes: bytes, onMessage: options.onMessage })
    } catch (e) {
      return reject(e)
    }
    if (native !== undefined) {
      const n = native
      return resolve({ port: n.port, native: true, send: n.send, close: () => Promise.resolve(n.close()), errors: n.dropped })
    }
    const family = isIPv6(options.host) ? 6 : 4
    const socket: Socket = createSocket({ type: family === 6 ? "udp6" : "udp4", reuseAddr: false })
    let errors = 0
    let tos = -1
    socket.once("error", reject)
    socket.on("message", (packet, from) => options.onMessage(packet, from.address, from.port))
    socket.bind(options.port, options.host, () => {
      socket.off("error", reject)
      // An unreachable peer or a full buffer is counted, never thrown.
      socket.on("error", () => void errors++)
      try {
        socket.setRecvBufferSize(bytes)
        socket.setSendBufferSize(bytes)
      } catch {
        // capped by net.core.*mem_max: the defaults still work
      }
      resolve({
        port: socket.address().port,
        native: false,
        send: (packet, port, address, dscp) => {
          if (dscp !== tos) {
            tos = dscp
            setDscp(socket, dscp, family)
          }
          socket.send(packet, port, address)
        },
        close: () => new Promise((done) => socket.close(() => done())),
        errors: () => errors,
      })
    })
  })
