/**
 * RTCP (RFC 3550 §6): sender and receiver reports, source descriptions and
 * BYE, in compound packets, as bytes. Multiplexed with RTP on one connection
 * (RFC 5761): packet types 200–204 never collide with an RTP payload type.
 * Decoding checks every length against the packet: a compound packet whose
 * parts do not add up to it exactly is refused whole.
 *
 * @since 0.3.0
 */

/** @category constants */
export const PacketType = { SR: 200, RR: 201, SDES: 202, BYE: 203 } as const

/** Most report blocks one SR or RR carries (the 5-bit count). @category constants */
export const MAX_REPORTS = 31

/** One source as a receiver saw it since its last report (RFC 3550 §6.4.1). @category models */
export interface ReportBlock {
  readonly ssrc: number
  /** Lost since the last report, in 1/256 (0..255). */
  readonly fractionLost: number
  /** Lost since the start (24-bit signed: duplicates can make it negative). */
  readonly cumulativeLost: number
  /** Extended highest sequence number received (cycles in the top 16 bits). */
  readonly highestSeq: number
  /** Interarrival jitter, in RTP timestamp units. */
  readonly jitter: number
  /** The middle 32 bits of the NTP time of the last SR from this source; 0: none yet. */
  readonly lsr: number
  /** Since that SR arrived, in 1/65,536 s. */
  readonly dlsr: number
}

/** What a sender has sent, at an instant (an SR's sender info). @category models */
export interface SenderInfo {
  readonly ntpSeconds: number
  readonly ntpFraction: number
  readonly rtpTimestamp: number
  readonly packets: number
  readonly octets: number
}

/** @category models */
export type RtcpPart =
  | { readonly type: "SR"; readonly ssrc: number; readonly sender: SenderInfo; readonly reports: ReadonlyArray<ReportBlock> }
  | { readonly type: "RR"; readonly ssrc: number; readonly reports: ReadonlyArray<ReportBlock> }
  | { readonly type: "SDES"; readonly chunks: ReadonlyArray<{ readonly ssrc: number; readonly cname?: string }> }
  | { readonly type: "BYE"; readonly ssrcs: ReadonlyArray<number> }
  /** APP, feedback (RFC 4585) and the like: kept as they came. */
  | { readonly type: "other"; readonly packetType: number; readonly bytes: Uint8Array }

// --- NTP time -------------------------------------------------------------------------

/** Seconds from 1900 (NTP) to 1970 (Unix). */
const NTP_EPOCH_OFFSET = 2_208_988_800

/** A wall-clock time in ms as NTP seconds and fraction (1/2³²). @category time */
export const ntpOf = (wallMs: number): { readonly seconds: number; readonly fraction: number } => {
  const seconds = Math.floor(wallMs / 1000)
  return { seconds: (seconds + NTP_EPOCH_OFFSET) >>> 0, fraction: Math.floor(((wallMs - seconds * 1000) / 1000) * 2 ** 32) >>> 0 }
}

/** The middle 32 bits of an NTP time: what LSR carries (units of 1/65,536 s). @category time */
export const compactNtp = (seconds: number, fraction: number): number => (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0

/**
 * Round-trip time from a report block about our own stream (RFC 3550
 * §6.4.1): arrival − LSR − DLSR, all compact NTP. Undefined without an SR
 * to refer to, or when the figure is impossible (a clock step, a lie).
 *
 * @category time
 */
export const roundTripMs = (arrivalCompact: number, block: Pick<ReportBlock, "lsr" | "dlsr">): number | undefined => {
  if (block.lsr === 0) return undefined
  const units = (arrivalCompact - block.lsr - block.dlsr) >>> 0
  // More than a minute is a wrap below zero, or nothing a real path takes.
  if (units > 60 * 65_536) return undefined
  return (units * 1000) / 65_536
}

// --- decoding --------------------------------------------------------------------------

const u32 = (p: Uint8Array, at: number) => ((p[at]! << 24) | (p[at + 1]! << 16) | (p[at + 2]! << 8) | p[at + 3]!) >>> 0

const reportAt = (p: Uint8Array, at: number): ReportBlock => {
  const lost = (p[at + 5]! << 16) | (p[at + 6]! << 8) | p[at + 7]!
  return {
    ssrc: u32(p, at),
    fractionLost: p[at + 4]!,
    cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
    highestSeq: u32(p, at + 8),
    jitter: u32(p, at + 12),
    lsr: u32(p, at + 16),
    dlsr: u32(p, at + 20),
  }
}

const reportsAt = (p: Uint8Array, at: number, count: number, end: number): Array<ReportBlock> | undefined => {
  if (at + 24 * count > end) return undefined
  const out: Array<ReportBlock> = []
  for (let i = 0; i < count; i++) out.push(reportAt(p, at + 24 * i))
  return out
}

const sdesAt = (p: Uint8Array, start: number, count: number, end: number) => {
  const chunks: Array<{ ssrc: number; cname?: string }> = []
  let at = start
  for (let c = 0; c < count; c++) {
    if (at + 4 > end) return undefined
    const ssrc = u32(p, at)
    at += 4
    let cname: string | undefined
    // Items until a zero type; then padding to the next 32-bit boundary.
    for (;;) {
      if (at >= end) return undefined
      const type = p[at]!
      if (type === 0) break
      if (at + 2 > end || at + 2 + p[at + 1]! > end) return undefined
      const length = p[at + 1]!
      if (type === 1) cname = new TextDecoder().decode(p.subarray(at + 2, at + 2 + length))
      at += 2 + length
    }
    at = (at + 4) & ~3
    if (at > end) return undefined
    chunks.push(cname !== undefined ? { ssrc, cname } : { ssrc })
  }
  return chunks
}

/**
 * A compound packet's parts, or undefined when it is not well-formed RTCP
 * (version, lengths, counts; the first part an SR or RR, RFC 3550 §6.1).
 *
 * @category decoding
 */
export const decode = (packet: Uint8Array): ReadonlyArray<RtcpPart> | undefined => {
  const parts: Array<RtcpPart> = []
  let at = 0
  while (at < packet.length) {
    if (at + 4 > packet.length || packet[at]! >> 6 !== 2) return undefined
    const count = packet[at]! & 0x1f
    const padded = (packet[at]! & 0x20) !== 0
    const type = packet[at + 1]!
    const end = at + 4 + 4 * ((packet[at + 2]! << 8) | packet[at + 3]!)
    if (end > packet.length || (padded && end !== packet.length)) return undefined
    const body = padded ? end - packet[end - 1]! : end
    if (body < at + 4) return undefined
    let part: RtcpPart | undefined
    if (type === PacketType.SR) {
      if (at + 28 > body) return undefined
      const reports = reportsAt(packet, at + 28, count, body)
      if (reports === undefined) return undefined
      part = {
        type: "SR",
        ssrc: u32(packet, at + 4),
        sender: { ntpSeconds: u32(packet, at + 8), ntpFraction: u32(packet, at + 12), rtpTimestamp: u32(packet, at + 16), packets: u32(packet, at + 20), octets: u32(packet, at + 24) },
        reports,
      }
    } else if (type === PacketType.RR) {
      if (at + 8 > body) return undefined
      const reports = reportsAt(packet, at + 8, count, body)
      if (reports === undefined) return undefined
      part = { type: "RR", ssrc: u32(packet, at + 4), reports }
    } else if (type === PacketType.SDES) {
      const chunks = sdesAt(packet, at + 4, count, body)
      if (chunks === undefined) return undefined
      part = { type: "SDES", chunks }
    } else if (type === PacketType.BYE) {
      if (at + 4 + 4 * count > body) return undefined
      const ssrcs: Array<number> = []
      for (let i = 0; i < count; i++) ssrcs.push(u32(packet, at + 4 + 4 * i))
      part = { type: "BYE", ssrcs }
    } else if (type >= 204 && type <= 206) {
      part = { type: "other", packetType: type, bytes: packet.subarray(at, end) }
    } else return undefined
    if (parts.length === 0 && part.type !== "SR" && part.type !== "RR") return undefined
    parts.push(part)
    at = end
  }
  return parts.length === 0 ? undefined : parts
}

// --- encoding --------------------------------------------------------------------------

const writeU32 = (into: Buffer, at: number, v: number) => into.writeUInt32BE(v >>> 0, at)

const writeReports = (into: Buffer, at: number, reports: ReadonlyArray<ReportBlock>) => {
  for (const r of reports) {
    writeU32(into, at, r.ssrc)
    const lost = Math.max(-0x800000, Math.min(0x7fffff, Math.trunc(r.cumulativeLost))) & 0xffffff
    writeU32(into, at + 4, ((Math.max(0, Math.min(255, r.fractionLost)) << 24) | lost) >>> 0)
    writeU32(into, at + 8, r.highestSeq)
    writeU32(into, at + 12, r.jitter)
    writeU32(into, at + 16, r.lsr)
    writeU32(into, at + 20, r.dlsr)
    at += 24
  }
}

const header = (into: Buffer, at: number, count: number, type: number, bytes: number) => {
  into[at] = 0x80 | count
  into[at + 1] = type
  into.writeUInt16BE(bytes / 4 - 1, at + 2)
}

const partBytes = (part: RtcpPart): Buffer => {
  switch (part.type) {
    case "SR": {
      const reports = part.reports.slice(0, MAX_REPORTS)
      const out = Buffer.alloc(28 + 24 * reports.length)
      header(out, 0, reports.length, PacketType.SR, out.length)
      writeU32(out, 4, part.ssrc)
      writeU32(out, 8, part.sender.ntpSeconds)
      writeU32(out, 12, part.sender.ntpFraction)
      writeU32(out, 16, part.sender.rtpTimestamp)
      writeU32(out, 20, part.sender.packets)
      writeU32(out, 24, part.sender.octets)
      writeReports(out, 28, reports)
      return out
    }
    case "RR": {
      const reports = part.reports.slice(0, MAX_REPORTS)
      const out = Buffer.alloc(8 + 24 * reports.length)
      header(out, 0, reports.length, PacketType.RR, out.length)
      writeU32(out, 4, part.ssrc)
      writeReports(out, 8, reports)
      return out
    }
    case "SDES": {
      const chunks = part.chunks.slice(0, 31).map((c) => {
        const name = Buffer.from(c.cname ?? "").subarray(0, 255)
        // SSRC, CNAME item, then at least one zero byte, to a 32-bit boundary.
        const chunk = Buffer.alloc((4 + 2 + name.length + 4) & ~3)
        writeU32(chunk, 0, c.ssrc)
        chunk[4] = 1
        chunk[5] = name.length
        name.copy(chunk, 6)
        return chunk
      })
      const body = Buffer.concat(chunks)
      const out = Buffer.alloc(4 + body.length)
      header(out, 0, chunks.length, PacketType.SDES, out.length)
      body.copy(out, 4)
      return out
    }
    case "BYE": {
      const ssrcs = part.ssrcs.slice(0, 31)
      const out = Buffer.alloc(4 + 4 * ssrcs.length)
      header(out, 0, ssrcs.length, PacketType.BYE, out.length)
      ssrcs.forEach((s, i) => writeU32(out, 4 + 4 * i, s))
      return out
    }
    case "other":
      return Buffer.from(part.bytes)
  }
}

/**
 * One compound packet of `parts`, in order (the first should be an SR or RR,
 * with an SDES CNAME after it, RFC 3550 §6.1). Report blocks past 31 are left out.
 *
 * @category encoding
 */
export const encode = (parts: ReadonlyArray<RtcpPart>): Buffer => Buffer.concat(parts.map(partBytes))
