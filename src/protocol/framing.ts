/**
 * RFC 4571 framing for RTP (and STUN) over stream transports: each packet is
 * preceded by its length as a 16-bit big-endian integer.
 *
 * @since 0.1.0
 */

/** Larger frames are a protocol error: media packets stay under the MTU. @category constants */
export const MAX_FRAME = 4096

/**
 * The 2-byte length prefix of a packet.
 *
 * @category writing
 */
export const prefix = (length: number): Buffer => {
  const header = Buffer.allocUnsafe(2)
  header.writeUInt16BE(length, 0)
  return header
}

/**
 * A whole frame: prefix and packet in one buffer (one copy, shared by every
 * stream receiver of a forwarded packet).
 *
 * @category writing
 */
export const frame = (packet: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(2 + packet.length)
  out.writeUInt16BE(packet.length, 0)
  out.set(packet, 2)
  return out
}

/**
 * Splits a byte stream into packets. `push` returns false after a frame that
 * is empty or larger than `maxFrame`: the stream is not RFC 4571 and should
 * be closed. Packets are views into the chunk when whole, copies only when a
 * frame spans chunks.
 *
 * @category reading
 */
export class Deframer {
  private pending: Buffer | undefined
  constructor(
    private readonly onPacket: (packet: Buffer) => void,
    private readonly maxFrame = MAX_FRAME,
  ) {}

  push(chunk: Buffer): boolean {
    let data = chunk
    if (this.pending !== undefined) {
      data = Buffer.concat([this.pending, chunk])
      this.pending = undefined
    }
    let offset = 0
    while (data.length - offset >= 2) {
      const length = data.readUInt16BE(offset)
      if (length === 0 || length > this.maxFrame) return false
      if (data.length - offset - 2 < length) break
      this.onPacket(data.subarray(offset + 2, offset + 2 + length))
      offset += 2 + length
    }
    if (offset < data.length) this.pending = Buffer.from(data.subarray(offset))
    return true
  }
}
