// @ts-check
/**
 * RTCP for the browser (RFC 3550 §6, muxed with RTP, RFC 5761): the page's
 * twin of src/actors/client/media-rtcp.ts and the subset of
 * src/protocol/rtcp.ts it needs. Every interval the page sends, per kind, an
 * SR about its stream (an RR before it has sent) with a report block per
 * sender it receives, and its CNAME; it reads the MMR's report about its own
 * stream (upstream loss, jitter, round trip) and the senders' SRs passed on.
 */

const SR = 200
const RR = 201
const SDES = 202
const NTP_EPOCH_OFFSET = 2_208_988_800

/** Looks like RTCP: version 2, an SR/RR/SDES/BYE/APP/feedback type, a length that fits. @param {Uint8Array} p */
export const isRtcp = (p) => p.length >= 8 && p[0] >> 6 === 2 && p[1] >= 200 && p[1] <= 206 && ((p[2] << 8) | p[3]) * 4 + 4 <= p.length

/** @param {number} wallMs */
const ntpOf = (wallMs) => {
  const seconds = Math.floor(wallMs / 1000)
  return { seconds: (seconds + NTP_EPOCH_OFFSET) >>> 0, fraction: Math.floor(((wallMs - seconds * 1000) / 1000) * 2 ** 32) >>> 0 }
}
/** @param {number} seconds @param {number} fraction */
const compactNtp = (seconds, fraction) => (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0

/**
 * The SRs and report blocks of a compound packet, or undefined when it does not add up.
 *
 * @param {Uint8Array} p
 * @returns {Array<{ type: number, ssrc: number, ntp?: number, reports: Array<{ ssrc: number, fractionLost: number, cumulativeLost: number, jitter: number, lsr: number, dlsr: number }> }> | undefined}
 */
const decode = (p) => {
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength)
  const parts = []
  let at = 0
  while (at < p.length) {
    if (at + 4 > p.length || p[at] >> 6 !== 2) return undefined
    const count = p[at] & 0x1f
    const type = p[at + 1]
    const end = at + 4 + 4 * view.getUint16(at + 2)
    if (end > p.length) return undefined
    if (type === SR || type === RR) {
      const blocks = at + (type === SR ? 28 : 8)
      if (blocks + 24 * count > end) return undefined
      const reports = []
      for (let i = 0; i < count; i++) {
        const b = blocks + 24 * i
        const lost = view.getUint32(b + 4) & 0xffffff
        reports.push({
          ssrc: view.getUint32(b),
          fractionLost: p[b + 4],
          cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
          jitter: view.getUint32(b + 12),
          lsr: view.getUint32(b + 16),
          dlsr: view.getUint32(b + 20),
        })
      }
      parts.push({ type, ssrc: view.getUint32(at + 4), ...(type === SR ? { ntp: compactNtp(view.getUint32(at + 8), view.getUint32(at + 12)) } : {}), reports })
    }
    at = end
  }
  return parts
}

/** One kind's RTCP. */
export class KindRtcp {
  packets = 0
  octets = 0
  lastRtp = 0
  lastRtpAt = 0
  sent = 0
  received = 0
  /** @type {{ loss: number, lost: number, jitterMs: number } | undefined} */
  up = undefined
  /** @type {number | undefined} */
  rttMs = undefined
  /** @type {Map<number, { compact: number, at: number }>} */
  senderReports = new Map()

  /** @param {number} ssrc @param {number} clockRate @param {string} cname */
  constructor(ssrc, clockRate, cname) {
    this.ssrc = ssrc >>> 0
    this.clockRate = clockRate
    this.cname = new TextEncoder().encode(cname).subarray(0, 255)
  }

  /** One of our RTP packets going out (before SRTP). @param {Uint8Array} p */
  noteSent(p) {
    const view = new DataView(p.buffer, p.byteOffset, p.byteLength)
    if (p.length < 12 || view.getUint32(8) !== this.ssrc) return
    this.packets++
    this.octets += p.length - 12
    this.lastRtp = view.getUint32(4)
    this.lastRtpAt = performance.now()
  }

  /** @param {Uint8Array} p */
  onPacket(p) {
    const parts = decode(p)
    if (parts === undefined) return
    this.received++
    const now = performance.now()
    const arrival = ntpOf(Date.now())
    for (const part of parts) {
      if (part.type === SR && part.ssrc !== this.ssrc && part.ntp !== undefined && this.senderReports.size < 256) this.senderReports.set(part.ssrc, { compact: part.ntp, at: now })
      const mine = part.reports.find((r) => r.ssrc === this.ssrc)
      if (mine === undefined) continue
      if (mine.lsr !== 0) {
        const units = (compactNtp(arrival.seconds, arrival.fraction) - mine.lsr - mine.dlsr) >>> 0
        if (units < 60 * 65_536) this.rttMs = (units * 1000) / 65_536
      }
      this.up = { loss: mine.fractionLost / 256, lost: mine.cumulativeLost, jitterMs: (mine.jitter * 1000) / this.clockRate }
    }
  }

  /**
   * Our compound packet: SR (or RR) with a block per sender in `sources`, then SDES CNAME.
   *
   * @param {Iterable<[number, import("./rtp.js").SourceStats]>} sources
   */
  compound(sources) {
    const now = performance.now()
    const blocks = []
    for (const [ssrc, stats] of sources) {
      if (blocks.length === 31) break
      if (ssrc === this.ssrc || stats.expected === 0) continue
      const sr = this.senderReports.get(ssrc)
      blocks.push({ ssrc, ...stats.reportBlock(), lsr: sr?.compact ?? 0, dlsr: sr === undefined ? 0 : Math.round((now - sr.at) * 65.536) >>> 0 })
    }
    const isSr = this.packets > 0
    const head = (isSr ? 28 : 8) + 24 * blocks.length
    const sdes = (4 + 4 + 2 + this.cname.length + 4) & ~3
    const out = new Uint8Array(head + sdes)
    const view = new DataView(out.buffer)
    out[0] = 0x80 | blocks.length
    out[1] = isSr ? SR : RR
    view.setUint16(2, head / 4 - 1)
    view.setUint32(4, this.ssrc)
    if (isSr) {
      const ntp = ntpOf(Date.now())
      view.setUint32(8, ntp.seconds)
      view.setUint32(12, ntp.fraction)
      view.setUint32(16, (this.lastRtp + Math.round(((now - this.lastRtpAt) * this.clockRate) / 1000)) >>> 0)
      view.setUint32(20, this.packets >>> 0)
      view.setUint32(24, this.octets >>> 0)
    }
    blocks.forEach((b, i) => {
      const at = (isSr ? 28 : 8) + 24 * i
      view.setUint32(at, b.ssrc)
      view.setUint32(at + 4, ((b.fractionLost << 24) | (Math.max(-0x800000, b.cumulativeLost) & 0xffffff)) >>> 0)
      view.setUint32(at + 8, b.highestSeq)
      view.setUint32(at + 12, b.jitter)
      view.setUint32(at + 16, b.lsr)
      view.setUint32(at + 20, b.dlsr)
    })
    out[head] = 0x81
    out[head + 1] = SDES
    view.setUint16(head + 2, sdes / 4 - 1)
    view.setUint32(head + 4, this.ssrc)
    out[head + 8] = 1
    out[head + 9] = this.cname.length
    out.set(this.cname, head + 10)
    this.sent++
    return out
  }

  report() {
    return { sent: this.sent, received: this.received, up: this.up, rttMs: this.rttMs === undefined ? undefined : Math.round(this.rttMs * 100) / 100 }
  }
}
