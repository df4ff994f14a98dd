// @ts-check
/**
 * RTP for the browser (RFC 3550), in the forms the MMR forwards: the fixed
 * header, receiver statistics per source (loss from sequence numbers, A.1;
 * interarrival jitter, A.8), and the payload formats the web client speaks —
 * Opus (RFC 7587: one frame per packet, 48 kHz clock) and VP8 (RFC 7741:
 * a one-byte payload descriptor, frames split into packets of at most
 * 1,200 bytes, the marker on a frame's last packet).
 *
 * The same numbers as src/protocol/media.ts: payload types 111/96, clocks
 * 48 kHz/90 kHz.
 */

export const HEADER_SIZE = 12
export const MAX_PACKET = 1200
export const payloadType = /** @type {const} */ ({ audio: 111, video: 96 })
export const clockRate = /** @type {const} */ ({ audio: 48_000, video: 90_000 })

/**
 * @typedef {{ payloadType: number, marker: boolean, sequence: number, timestamp: number, ssrc: number, payload: Uint8Array }} RtpPacket
 */

/**
 * @param {{ payloadType: number, marker: boolean, sequence: number, timestamp: number, ssrc: number }} h
 * @param {Uint8Array} payload
 * @param {Uint8Array} [prefix] bytes placed before the payload (a payload descriptor)
 */
export const encodeRtp = (h, payload, prefix) => {
  const extra = prefix?.length ?? 0
  const packet = new Uint8Array(HEADER_SIZE + extra + payload.length)
  const view = new DataView(packet.buffer)
  packet[0] = 0x80
  packet[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f)
  view.setUint16(2, h.sequence & 0xffff)
  view.setUint32(4, h.timestamp >>> 0)
  view.setUint32(8, h.ssrc >>> 0)
  if (prefix !== undefined) packet.set(prefix, HEADER_SIZE)
  packet.set(payload, HEADER_SIZE + extra)
  return packet
}

/**
 * Parses RTP (CSRCs, header extension and padding allowed); undefined for
 * anything else — STUN keepalives, RTCP, garbage.
 *
 * @param {Uint8Array} packet
 * @returns {RtpPacket | undefined}
 */
export const parseRtp = (packet) => {
  if (packet.length < HEADER_SIZE || packet[0] >> 6 !== 2) return undefined
  const pt = packet[1] & 0x7f
  if (pt >= 64 && pt <= 95) return undefined // RTCP packet types 192–223 (RFC 5761 §4)
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength)
  let offset = HEADER_SIZE + 4 * (packet[0] & 0x0f)
  if ((packet[0] & 0x10) !== 0) {
    if (offset + 4 > packet.length) return undefined
    offset += 4 + 4 * view.getUint16(offset + 2)
  }
  let end = packet.length
  if ((packet[0] & 0x20) !== 0) end -= packet[packet.length - 1]
  if (offset > end) return undefined
  return {
    payloadType: pt,
    marker: (packet[1] & 0x80) !== 0,
    sequence: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payload: packet.subarray(offset, end),
  }
}

/** Receiver statistics for one source (RFC 3550 A.1, A.8). */
export class SourceStats {
  packets = 0
  bytes = 0
  baseSeq = -1
  maxSeq = 0
  cycles = 0
  lastTransit = 0
  jitterUnits = 0
  /** At the last report block. */
  expectedPrior = 0
  receivedPrior = 0

  /** @param {number} rate the source's RTP clock rate */
  constructor(rate) {
    this.rate = rate
  }

  /** @param {RtpPacket} p @param {number} bytes @param {number} arrivalMs */
  update(p, bytes, arrivalMs) {
    this.packets++
    this.bytes += bytes
    const transit = (arrivalMs * this.rate) / 1000 - p.timestamp
    if (this.baseSeq < 0) {
      this.baseSeq = this.maxSeq = p.sequence
      this.lastTransit = transit
      return
    }
    const delta = (p.sequence - this.maxSeq + 65536) % 65536
    if (delta > 0 && delta < 3000) {
      if (p.sequence < this.maxSeq) this.cycles += 65536
      this.maxSeq = p.sequence
    } else if (delta !== 0 && delta <= 65536 - 100) {
      this.baseSeq = this.maxSeq = p.sequence // the sender restarted
      this.cycles = 0
      this.packets = 1
      this.expectedPrior = this.receivedPrior = 0
    }
    const d = Math.abs(transit - this.lastTransit)
    this.lastTransit = transit
    this.jitterUnits += (d - this.jitterUnits) / 16
  }

  get expected() {
    return this.baseSeq < 0 ? 0 : this.cycles + this.maxSeq - this.baseSeq + 1
  }

  get loss() {
    return this.expected === 0 ? 0 : Math.max(0, this.expected - this.packets) / this.expected
  }

  get jitterMs() {
    return (this.jitterUnits * 1000) / this.rate
  }

  /** An RTCP report block's figures (RFC 3550 A.3); each call starts a new interval. Same as src/protocol/rtp.ts. */
  reportBlock() {
    const expected = this.expected
    const expectedInterval = expected - this.expectedPrior
    const receivedInterval = this.packets - this.receivedPrior
    this.expectedPrior = expected
    this.receivedPrior = this.packets
    const lostInterval = expectedInterval - receivedInterval
    return {
      fractionLost: expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval)),
      cumulativeLost: Math.min(0x7fffff, expected - this.packets),
      highestSeq: (this.cycles + this.maxSeq) >>> 0,
      jitter: Math.floor(this.jitterUnits) >>> 0,
    }
  }
}

/**
 * Splits one encoded VP8 frame into RTP payloads (RFC 7741 §4.2): a one-byte
 * descriptor, S set on the first packet of the frame, partition index 0.
 *
 * @param {Uint8Array} frame
 * @returns {Array<{ descriptor: Uint8Array, payload: Uint8Array, last: boolean }>}
 */
export const packetizeVp8 = (frame) => {
  const room = MAX_PACKET - HEADER_SIZE - 1
  /** @type {Array<{ descriptor: Uint8Array, payload: Uint8Array, last: boolean }>} */
  const parts = []
  for (let offset = 0; offset < frame.length; offset += room) {
    const end = Math.min(frame.length, offset + room)
    parts.push({ descriptor: Uint8Array.of(offset === 0 ? 0x10 : 0x00), payload: frame.subarray(offset, end), last: end === frame.length })
  }
  return parts
}

/** Is this VP8 frame a key frame (RFC 6386 §9.1: P bit clear and the start code)? @param {Uint8Array} frame */
export const isVp8KeyFrame = (frame) => frame.length >= 10 && (frame[0] & 0x01) === 0 && frame[3] === 0x9d && frame[4] === 0x01 && frame[5] === 0x2a

/**
 * Reassembles VP8 frames from RTP (RFC 7741 §4.2, §4.5): packets of one
 * timestamp, contiguous sequence numbers, S on the first and the marker on
 * the last. A frame with a gap is dropped, and so is everything until the
 * next key frame, since the decoder cannot use it.
 */
export class Vp8Assembler {
  /** @type {Array<Uint8Array>} */ parts = []
  timestamp = -1
  nextSeq = -1
  broken = false
  needKey = true
  framesDropped = 0

  /**
   * @param {RtpPacket} p
   * @returns {{ data: Uint8Array, key: boolean, timestamp: number } | undefined}
   */
  push(p) {
    const d = p.payload
    if (d.length < 2) return undefined
    let offset = 1
    if ((d[0] & 0x80) !== 0) {
      const x = d[1]
      offset = 2
      if ((x & 0x80) !== 0) offset += (d[offset] & 0x80) !== 0 ? 2 : 1 // PictureID
      if ((x & 0x40) !== 0) offset += 1 // TL0PICIDX
      if ((x & 0x30) !== 0) offset += 1 // TID / KEYIDX
    }
    if (offset >= d.length) return undefined
    const start = (d[0] & 0x10) !== 0 && (d[0] & 0x07) === 0
    if (p.timestamp !== this.timestamp) {
      if (this.parts.length > 0) this.framesDropped++
      this.parts = []
      this.timestamp = p.timestamp
      this.broken = !start
    } else if (p.sequence !== this.nextSeq) {
      this.broken = true
    }
    this.nextSeq = (p.sequence + 1) & 0xffff
    if (!this.broken) this.parts.push(d.subarray(offset))
    if (!p.marker) return undefined
    const parts = this.parts
    this.parts = []
    if (this.broken || parts.length === 0) {
      this.framesDropped++
      this.needKey = true
      return undefined
    }
    const size = parts.reduce((n, part) => n + part.length, 0)
    const data = new Uint8Array(size)
    let at = 0
    for (const part of parts) {
      data.set(part, at)
      at += part.length
    }
    const key = isVp8KeyFrame(data)
    if (this.needKey && !key) {
      this.framesDropped++
      return undefined
    }
    this.needKey = false
    return { data, key, timestamp: p.timestamp }
  }
}
