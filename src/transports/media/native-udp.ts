/**
 * The native data path (native/udp_batch.c, built by node-gyp at install):
 * an IPv4 UDP port whose datagrams arrive in batches (recvmmsg, up to 64 a
 * system call and one JavaScript call a batch) and whose sends are queued
 * as they are forwarded and go out together with one sendmmsg when the
 * current batch ends (a microtask), each with its own IP_TOS as ancillary
 * data — so one socket carries every kind with exact marks and no
 * setsockopt per packet. Where the addon did not build, or
 * MEETZONE_NATIVE=0, `load` says why and the port is Node's dgram.
 *
 * @since 0.4.0
 */
import { createRequire } from "node:module"
import { isIPv4 } from "node:net"

interface Addon {
  readonly sendBatch: (fd: number, buffers: ReadonlyArray<Buffer>, ports: Int32Array, addresses: Uint32Array, tos: Int32Array, count: number) => number
  readonly maxBatch: number
  readonly open: (address: number, port: number, bufferBytes: number) => { readonly fd: number; readonly port: number }
  readonly receive: (fd: number, onBatch: (slab: Buffer, count: number) => void, lengths: Int32Array, addresses: Uint32Array, ports: Int32Array) => object
  readonly close: (handle: object) => void
  readonly recvBatch: number
  readonly recvSlot: number
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
export const status = (): string => ("addon" in loaded ? "native (recvmmsg and sendmmsg, IP_TOS per datagram)" : `pure TypeScript: ${loaded.unavailable}`)

const ipv4 = (address: string): number => {
  const [a, b, c, d] = address.split(".").map(Number) as [number, number, number, number]
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

const dotted = (a: number): string => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`

/** Sends queued in one event, out by one sendmmsg. */
interface BatchSender {
  readonly send: (packet: Buffer, port: number, address: string, dscp: number) => void
  /** Datagrams the kernel did not take (its send buffer full): dropped, not queued. */
  readonly dropped: () => number
}

const batchSender = (addon: Addon, fd: number): BatchSender => {
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

/** @category models */
export interface NativePort {
  readonly port: number
  readonly send: (packet: Buffer, port: number, address: string, dscp: number) => void
  /** Datagrams not taken by the kernel, datagrams in too large for a slot (2,048 B) or that their handler threw on: dropped. */
  readonly dropped: () => number
  readonly close: () => void
}

/**
 * A native port bound to `host:port` (IPv4), or none where the addon is not
 * loaded or the host is not IPv4: the caller then opens a dgram socket.
 * Bind errors are thrown with Node's codes (EADDRINUSE, …). A datagram
 * given to `onMessage` lives in the port's receive slab, which the next
 * batch reuses: it is valid only during the call — copy what you keep.
 *
 * @category constructors
 */
export const open = (options: {
  readonly host: string
  readonly port: number
  readonly bufferBytes: number
  readonly onMessage: (packet: Buffer, address: string, port: number) => void
}): NativePort | undefined => {
  if (!("addon" in loaded) || !isIPv4(options.host)) return undefined
  const { addon } = loaded
  const bound = addon.open(ipv4(options.host), options.port, options.bufferBytes)
  const sender = batchSender(addon, bound.fd)
  const lengths = new Int32Array(addon.recvBatch)
  const addresses = new Uint32Array(addon.recvBatch)
  const ports = new Int32Array(addon.recvBatch)
  // Senders' addresses as strings, made once each; bounded so a scan of sources cannot grow it without end.
  const names = new Map<number, string>()
  let truncated = 0
  let failed = 0
  const { onMessage } = options
  const slot = addon.recvSlot
  const handle = addon.receive(
    bound.fd,
    (slab, count) => {
      for (let i = 0; i < count; i++) {
        const length = lengths[i]!
        if (length < 0) {
          truncated++
          continue
        }
        const a = addresses[i]!
        let name = names.get(a)
        if (name === undefined) {
          if (names.size >= 65_536) names.clear()
          names.set(a, (name = dotted(a)))
        }
        try {
          onMessage(slab.subarray(i * slot, i * slot + length), name, ports[i]!)
        } catch {
          // A datagram its handler could not take is dropped and counted; the rest of the batch goes on.
          failed++
        }
      }
    },
    lengths,
    addresses,
    ports,
  )
  let closed = false
  return {
    port: bound.port,
    send: sender.send,
    dropped: () => sender.dropped() + truncated + failed,
    close: () => {
      if (closed) return
      closed = true
      addon.close(handle)
    },
  }
}
