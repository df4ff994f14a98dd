/**
 * Opus in an Ogg file (RFC 7845, RFC 3533): what a recording of one audio
 * stream is written as, so that standard tools (ffprobe, players) read it.
 * One Opus packet per page; the granule position counts 48 kHz samples.
 *
 *   page   "OggS", version 0, flags (BOS first, EOS last), granule (64 bit), serial, sequence, CRC, lacing
 *   1      OpusHead: version 1, channels, pre-skip, input rate, gain 0, mapping family 0
 *   2      OpusTags: vendor, no comments
 *   3…     one Opus packet each
 *
 * @since 0.3.0
 */
import { closeSync, openSync, writeSync } from "node:fs"

/** Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial 0. */
const table = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let r = i << 24
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1
    t[i] = r >>> 0
  }
  return t
})()
const crc = (bytes: Uint8Array): number => {
  let c = 0
  for (const b of bytes) c = ((c << 8) ^ table[((c >>> 24) ^ b) & 0xff]!) >>> 0
  return c
}

/** One Ogg page holding `packet` whole. */
export const page = (packet: Uint8Array, flags: number, granule: bigint, serial: number, sequence: number): Buffer => {
  const lacing: Array<number> = []
  let left = packet.length
  for (;;) {
    const n = Math.min(255, left)
    lacing.push(n)
    left -= n
    if (n < 255) break
  }
  const out = Buffer.alloc(27 + lacing.length + packet.length)
  out.write("OggS", 0, "latin1")
  out[4] = 0
  out[5] = flags
  out.writeBigInt64LE(granule, 6)
  out.writeUInt32LE(serial >>> 0, 14)
  out.writeUInt32LE(sequence >>> 0, 18)
  out[26] = lacing.length
  Buffer.from(lacing).copy(out, 27)
  Buffer.from(packet.buffer, packet.byteOffset, packet.length).copy(out, 27 + lacing.length)
  out.writeUInt32LE(crc(out), 22)
  return out
}

/** Samples in one Opus packet (RFC 6716 §3.1: its TOC byte and frame count). */
export const samplesOf = (packet: Uint8Array): number => {
  const toc = packet[0] ?? 0
  const config = toc >> 3
  const frameMs = config < 12 ? [10, 20, 40, 60][config & 3]! : config < 16 ? [10, 20][config & 1]! : [2.5, 5, 10, 20][config & 3]!
  const code = toc & 3
  const frames = code === 0 ? 1 : code === 3 ? (packet[1] ?? 0) & 0x3f : 2
  return Math.round(frames * frameMs * 48)
}

/** @category models */
export interface OggOpusWriter {
  readonly write: (opus: Uint8Array) => void
  readonly close: () => void
  /** Packets written. */
  readonly packets: () => number
}

/** A file at `path`: the headers now, a page per packet, the last page marked end-of-stream on close. */
export const open = (path: string, channels = 1): OggOpusWriter => {
  const fd = openSync(path, "w")
  const serial = Math.floor(Math.random() * 0xffffffff)
  let sequence = 0
  let granule = 0n
  let count = 0
  let held: Uint8Array | undefined
  const head = Buffer.alloc(19)
  head.write("OpusHead", 0, "latin1")
  head[8] = 1
  head[9] = channels
  head.writeUInt16LE(312, 10) // pre-skip: libopus's usual encoder delay
  head.writeUInt32LE(48_000, 12)
  writeSync(fd, page(head, 0x02, 0n, serial, sequence++))
  const vendor = Buffer.from("meetzone")
  const tags = Buffer.alloc(8 + 4 + vendor.length + 4)
  tags.write("OpusTags", 0, "latin1")
  tags.writeUInt32LE(vendor.length, 8)
  vendor.copy(tags, 12)
  writeSync(fd, page(tags, 0, 0n, serial, sequence++))
  // Each packet waits for the next, so that the last one can carry end-of-stream.
  const flush = (flags: number) => {
    if (held === undefined) return
    granule += BigInt(samplesOf(held))
    writeSync(fd, page(held, flags, granule, serial, sequence++))
    held = undefined
  }
  let closed = false
  return {
    write: (opus) => {
      if (closed || opus.length === 0) return
      flush(0)
      held = Uint8Array.from(opus)
      count++
    },
    close: () => {
      if (closed) return
      closed = true
      flush(0x04)
      closeSync(fd)
    },
    packets: () => count,
  }
}
