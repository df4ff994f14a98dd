/**
 * The native data path (native/udp_batch.c, built by node-gyp at install):
 * a UDP port's datagrams queued as they are forwarded and sent together with
 * one sendmmsg when the current event ends (a microtask), each with its own
 * IP_TOS as ancillary data — so one socket carries every kind with exact
 * marks and no setsockopt per packet. Where the addon did not build, or
 * MEETZONE_NATIVE=0, `load` says why and the port sends through Node's dgram.
 *
 * @since 0.4.0
 */
import type { Socket } from "node:dgram"
import { createRequire } from "node:module"
import { isIPv4 } from "node:net"

interface Addon {
  readonly sendBatch: (fd: number, buffers: ReadonlyArray<Buffer>, ports: Int32Array, addresses: Uint32Array, tos: Int32Array, count: number) => number
  readonly maxBatch: number
}

/** The addon, or why it is not used. @category loading */
export const load = (): { readonly addon: Addon } | { readonly unavailable: string } => {
  if (process.env["MEETZONE_NATIVE"] === "0") return { unavailable: "MEETZONE_NATIVE=0" }
  try {
    // native/ beside src/ (or dist/): three levels up from this module.
    return { addon: createRequire(import.meta.url)("../../../native/build/Release/meetzone_udp.node") as Addon }
  } catch (e) {
    return { unavailable: `the addon did not load (${(e instanceof Error ? e.message : String(e)).split("\n")[0]}); npm ci builds it` }
  }
}

const loaded = load()

/** Which path media goes out on, and why. @category loading */
export const status = (): string => ("addon" in loaded ? "native (sendmmsg, IP_TOS per datagram)" : `pure TypeScript: ${loaded.unavailable}`)

/** The descriptor of a bound dgram socket (libuv's handle; Node has no public accessor). */
const fdOf = (socket: Socket): number | undefined => {
  const quiet = process.noDeprecation
  process.noDeprecation = true
  try {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
    return typeof fd === "number" && fd >= 0 ? fd : undefined
  } finally {
    process.noDeprecation = quiet
  }
}

const ipv4 = (address: string): number => {
  const [a, b, c, d] = address.split(".").map(Number) as [number, number, number, number]
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

/** @category models */
export interface BatchSender {
  readonly send: (packet: Buffer, port: number, address: string, dscp: number) => void
  /** Datagrams the kernel did not take (its send buffer full): dropped, not queued. */
  readonly dropped: () => number
}

/**
 * A batch sender for an IPv4 socket, or none (IPv6, no addon, no descriptor):
 * the caller then sends through dgram.
 *
 * @category constructors
 */
export const batchSender = (socket: Socket): BatchSender | undefined => {
  if (!("addon" in loaded) || socket.address().family !== "IPv4") return undefined
  const fd = fdOf(socket)
  if (fd === undefined) return undefined
  const { addon } = loaded
  const max = addon.maxBatch
  const buffers: Array<Buffer> = []
  const ports = new Int32Array(max)
  const addresses = new Uint32Array(max)
  const tos = new Int32Array(max)
  // Peers' addresses, parsed once each (a few per participant); bounded so a scan cannot grow it without end.
  const parsed = new Map<string, number>()
  let count = 0
  let dropped = 0
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (count === 0) return
    dropped += count - addon.sendBatch(fd, buffers, ports, addresses, tos, count)
    count = 0
    buffers.length = 0
  }
  return {
    send: (packet, port, address, dscp) => {
      let a = parsed.get(address)
      if (a === undefined) {
        if (!isIPv4(address)) return void dropped++
        if (parsed.size >= 65_536) parsed.clear()
        parsed.set(address, (a = ipv4(address)))
      }
      if (count === max) flush()
      buffers.push(packet)
      ports[count] = port
      addresses[count] = a
      tos[count] = dscp << 2
      count++
      if (!scheduled) {
        scheduled = true
        queueMicrotask(flush)
      }
    },
    dropped: () => dropped,
  }
}
