/**
 * RTP (RFC 3550): the fixed header, and the receiver statistics an RTP
 * receiver keeps per source — packets, loss from sequence numbers (A.1) and
 * interarrival jitter (A.8). Bytes only; nothing about sockets.
 *
 * @since 0.1.0
 */

/** Smallest RTP packet: the 12-byte fixed header. @category constants */
export const HEADER_SIZE = 12

/**
 * Does this look like RTP version 2 with room for its header (CSRCs included)?
 * RTCP shares the version bits: its packet types 192–223 read as payload
 * types 64–95 with the marker set, which RTP must not use (RFC 5761 §4).
 *
 * @category parsing
 */
export const isRtp = (packet: Uint8Array): boolean => {
  if (packet.length < HEADER_SIZE || packet[0]! >> 6 !== 2) return false
  const pt = packet[1]! & 0x7f
  if (pt >= 64 && pt <= 95) return false // RTCP
  return packet.length >= HEADER_SIZE + 4 * (packet[0]! & 0x0f)
}

/**
 * Does this look like an RTCP compound packet's first part (RFC 3550 §6,
 * multiplexed with RTP per RFC 5761): version 2, a control packet type
 * (SR, RR, SDES, BYE, APP, RTPFB, PSFB: 200–206), and a length that fits?
 *
 * @category parsing
 */
export const isRtcp = (packet: Uint8Array): boolean => {
  if (packet.length < 8 || packet[0]! >> 6 !== 2) return false
  const pt = packet[1]!
  if (pt < 200 || pt > 206) return false
  return ((packet[2]! << 8) | packet[3]!) * 4 + 4 <= packet.length
}

/** @category parsing */
export const sequenceNumber = (packet: Uint8Array): number => (packet[2]! << 8) | packet[3]!
/** @category parsing */
export const timestamp = (packet: Uint8Array): number =>
  ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0
/** @category parsing */
export const ssrc = (packet: Uint8Array): number =>
  ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) | packet[11]!) >>> 0
/** @category parsing */
export const payloadTypeOf = (packet: Uint8Array): number => packet[1]! & 0x7f
/** @category parsing */
export const marker = (packet: Uint8Array): boolean => (packet[1]! & 0x80) !== 0

/**
 * Writes a fixed header (no CSRCs, no extension) into `into` at 0.
 *
 * @category writing
 */
export const writeHeader = (
  into: Uint8Array,
  fields: { payloadType: number; marker: boolean; sequence: number; timestamp: number; ssrc: number },
): void => {
  into[0] = 0x80
  into[1] = (fields.marker ? 0x80 : 0) | (fields.payloadType & 0x7f)
  into[2] = (fields.sequence >> 8) & 0xff
  into[3] = fields.sequence & 0xff
  into[4] = (fields.timestamp >>> 24) & 0xff
  into[5] = (fields.timestamp >>> 16) & 0xff
  into[6] = (fields.timestamp >>> 8) & 0xff
  into[7] = fields.timestamp & 0xff
  into[8] = (fields.ssrc >>> 24) & 0xff
  into[9] = (fields.ssrc >>> 16) & 0xff
  into[10] = (fields.ssrc >>> 8) & 0xff
  into[11] = fields.ssrc & 0xff
}

const RTP_SEQ_MOD = 1 << 16
const MAX_DROPOUT = 3000
const MAX_MISORDER = 100

/**
 * Receiver statistics for one RTP source (RFC 3550 A.1 and A.8), updated in
 * place per packet without allocating.
 *
 * @category statistics
 */
export class SourceStats {
  packets = 0
  bytes = 0
  private baseSeq = -1
  private maxSeq = 0
  private cycles = 0
  private lastTransit = 0
  /** Interarrival jitter in RTP timestamp units, smoothed by 1/16. */
  private jitterUnits = 0
  /** At the last report block (A.3). */
  private expectedPrior = 0
  private receivedPrior = 0

  constructor(readonly clockRate: number) {}

  /** `arrivalMs`: a monotonic clock in milliseconds. */
  update(packet: Uint8Array, arrivalMs: number): void {
    const seq = sequenceNumber(packet)
    this.packets++
    this.bytes += packet.length
    const arrival = (arrivalMs * this.clockRate) / 1000
    const transit = arrival - timestamp(packet)
    if (this.baseSeq < 0) {
      this.baseSeq = seq
      this.maxSeq = seq
      this.lastTransit = transit
      return
    }
    const delta = (seq - this.maxSeq + RTP_SEQ_MOD) % RTP_SEQ_MOD
    if (delta > 0 && delta < MAX_DROPOUT) {
      if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD
      this.maxSeq = seq
    } else if (delta !== 0 && delta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // A large jump: the sender restarted. Start counting again from here.
      this.baseSeq = seq
      this.maxSeq = seq
      this.cycles = 0
      this.packets = 1
      this.expectedPrior = 0
      this.receivedPrior = 0
    }
    const d = Math.abs(transit - this.lastTransit)
    this.lastTransit = transit
    this.jitterUnits += (d - this.jitterUnits) / 16
  }

  /**
   * What an RTCP report block says of this source (RFC 3550 A.3): loss since
   * the last call, in 1/256, and everything since the start. Each call starts
   * a new interval.
   */
  reportBlock(): { fractionLost: number; cumulativeLost: number; highestSeq: number; jitter: number } {
    const expected = this.expected
    const expectedInterval = expected - this.expectedPrior
    const receivedInterval = this.packets - this.receivedPrior
    this.expectedPrior = expected
    this.receivedPrior = this.packets
    const lostInterval = expectedInterval - receivedInterval
    // A restarted sender (counting began again) reads as nothing lost this once.
    const fractionLost = expectedInterval <= 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval))
    return {
      fractionLost,
      cumulativeLost: Math.min(0x7fffff, expected - this.packets),
      highestSeq: (this.cycles + this.maxSeq) >>> 0,
      jitter: Math.floor(this.jitterUnits) >>> 0,
    }
  }

  /** Packets the sender sent, by sequence numbers. */
  get expected(): number {
    return this.baseSeq < 0 ? 0 : this.cycles + this.maxSeq - this.baseSeq + 1
  }

  get lost(): number {
    return Math.max(0, this.expected - this.packets)
  }

  /** Fraction lost, 0..1. */
  get loss(): number {
    return this.expected === 0 ? 0 : this.lost / this.expected
  }

  get jitterMs(): number {
    return (this.jitterUnits * 1000) / this.clockRate
  }
}
