/**
 * VP8 in RTP (RFC 7741) and the little of the VP8 bitstream (RFC 6386) a
 * router of frames needs: split a frame into payloads, put frames back
 * together from packets, tell a key frame and its size. The browser's twin
 * is `web/client/rtp.js` (packetizeVp8, Vp8Assembler): the same rules.
 *
 * @since 0.4.0
 */
import { marker, payloadTypeOf, sequenceNumber, timestamp } from "./rtp.js"

/** Largest RTP packet we make: well under any path's MTU, TLS framing included. @category constants */
export const MAX_PACKET = 1200

/**
 * One frame's payloads (RFC 7741 §4.2): a one-byte descriptor, S set on the
 * first packet of the frame, partition index 0; the marker goes on the last.
 *
 * @category packetizing
 */
export const packetize = (frame: Uint8Array, room = MAX_PACKET - 12 - 1): ReadonlyArray<{ readonly payload: Uint8Array; readonly last: boolean }> => {
  const parts: Array<{ payload: Uint8Array; last: boolean }> = []
  for (let offset = 0; offset < frame.length; offset += room) {
    const end = Math.min(frame.length, offset + room)
    const payload = new Uint8Array(1 + end - offset)
    payload[0] = offset === 0 ? 0x10 : 0x00
    payload.set(frame.subarray(offset, end), 1)
    parts.push({ payload, last: end === frame.length })
  }
  return parts
}

/** Is this VP8 frame a key frame (RFC 6386 §9.1: P bit clear and the start code)? @category bitstream */
export const isKeyFrame = (frame: Uint8Array): boolean =>
  frame.length >= 10 && (frame[0]! & 0x01) === 0 && frame[3] === 0x9d && frame[4] === 0x01 && frame[5] === 0x2a

/** A key frame's picture size (RFC 6386 §9.1: 14 bits each, after the start code). @category bitstream */
export const keyFrameSize = (frame: Uint8Array): { readonly width: number; readonly height: number } | undefined =>
  isKeyFrame(frame) ? { width: (frame[6]! | (frame[7]! << 8)) & 0x3fff, height: (frame[8]! | (frame[9]! << 8)) & 0x3fff } : undefined

/** @category models */
export interface Frame {
  readonly data: Uint8Array
  readonly key: boolean
  /** The RTP timestamp (90 kHz). */
  readonly timestamp: number
}

/**
 * Puts VP8 frames back together from one sender's RTP (RFC 7741 §4.2,
 * §4.5): packets of one timestamp, contiguous sequence numbers, S on the
 * first and the marker on the last. A frame with a gap is dropped, and so is
 * everything until the next key frame: a decoder cannot use it.
 *
 * @category depacketizing
 */
export class Assembler {
  private parts: Array<Uint8Array> = []
  private timestamp = -1
  private nextSeq = -1
  private broken = false
  private needKey = true
  framesDropped = 0

  constructor(private readonly payloadType: number) {}

  /** Takes one RTP packet (header and payload, no padding expected); a whole frame when this packet ends one. */
  push(packet: Uint8Array, payload: Uint8Array): Frame | undefined {
    if (payloadTypeOf(packet) !== this.payloadType || payload.length < 2) return undefined
    let offset = 1
    if ((payload[0]! & 0x80) !== 0) {
      const x = payload[1]!
      offset = 2
      if ((x & 0x80) !== 0) offset += (payload[offset]! & 0x80) !== 0 ? 2 : 1 // PictureID
      if ((x & 0x40) !== 0) offset += 1 // TL0PICIDX
      if ((x & 0x30) !== 0) offset += 1 // TID / KEYIDX
    }
    if (offset >= payload.length) return undefined
    const start = (payload[0]! & 0x10) !== 0 && (payload[0]! & 0x07) === 0
    const ts = timestamp(packet)
    const seq = sequenceNumber(packet)
    if (ts !== this.timestamp) {
      if (this.parts.length > 0) this.framesDropped++
      this.parts = []
      this.timestamp = ts
      this.broken = !start
    } else if (seq !== this.nextSeq) {
      this.broken = true
    }
    this.nextSeq = (seq + 1) & 0xffff
    if (!this.broken) this.parts.push(payload.subarray(offset))
    if (!marker(packet)) return undefined
    const parts = this.parts
    this.parts = []
    if (this.broken || parts.length === 0) {
      this.framesDropped++
      this.needKey = true
      return undefined
    }
    const data = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
    let at = 0
    for (const part of parts) {
      data.set(part, at)
      at += part.length
    }
    const key = isKeyFrame(data)
    if (this.needKey && !key) {
      this.framesDropped++
      return undefined
    }
    this.needKey = false
    return { data, key, timestamp: ts }
  }
}
