/**
 * RTCP at the MMR, hop by hop (RFC 3550 §6, as a selective forwarding
 * middlebox in RFC 7667's terms): a participant's compound packets end here.
 *
 *   SR from the participant's declared SSRC   its sender info goes on to the
 *                                            others (stripped of report blocks),
 *                                            for their lip sync and their LSR
 *   report blocks about others' streams      kept: what that receiver lost, its
 *                                            jitter, and the round trip, timed
 *                                            against when we passed the SR on
 *   every interval (randomised 0.5–1.5×)     an RR to the participant about its
 *                                            own stream: loss, jitter, LSR/DLSR
 *
 * So the participant learns its upstream, and the MMR both directions of
 * every connection. RTCP travels in the clear (no SRTCP): it holds counts
 * and times, no media, and the MMR must read it. An SR from an SSRC the
 * participant did not declare goes nowhere; report blocks about SSRCs not in
 * the meeting are ignored, so what one connection keeps stays bounded.
 *
 * @since 0.3.0
 */
import { randomInt } from "node:crypto"
import { frame } from "../../protocol/framing.js"
import * as Rtcp from "../../protocol/rtcp.js"
import type { Binding } from "./sfu.js"

/** What a receiver told us of one stream it gets from us. @category models */
export interface ReceivedReport {
  /** Lost in its last interval, 0..1. */
  readonly loss: number
  readonly cumulativeLost: number
  readonly jitterMs: number
  readonly at: number
}

/** One connection's RTCP state. @category models */
export class HopRtcp {
  /** Compact NTP time of the participant's last SR, and when it came (for our LSR/DLSR). */
  lastSr = 0
  lastSrAt = 0
  /** SRs passed on to this connection lately: compact NTP → when, for its round trip. */
  readonly forwarded: Array<{ readonly compact: number; readonly at: number }> = []
  /** What this participant reports of the streams it receives, by SSRC. */
  readonly received = new Map<number, ReceivedReport>()
  rttMs: number | undefined
  /** What our latest report said of its stream: lost in that interval, 0..1. */
  upLoss = 0
  nextReport = 0
  /** This second's RTCP packets, for the flood limit. */
  windowStart = 0
  windowPackets = 0
  reportsIn = 0
  reportsOut = 0
}

/** @category models */
export interface RtcpCounters {
  /** Compound packets taken from participants. */
  received: number
  /** Receiver reports sent to participants. */
  sent: number
  /** Sender infos passed on to the other participants. */
  senderReportsForwarded: number
  /** SRs from an SSRC their sender did not declare. */
  refused: number
  /** Over the per-connection limit: a client sends about one a second. */
  overRate: number
}

const FORWARDED_KEPT = 16
/** RTCP packets one connection may have read in a second; an honest client sends one or two. */
const MAX_PER_SECOND = 20
/** A receiver's report on a stream older than this says nothing of it now. */
const STALE_MS = 10_000

/** @category constructors */
export class RtcpTerminator {
  /** Ours, in the reports we send: a random SSRC, as RFC 3550 §8 asks. */
  readonly ssrc = randomInt(1, 2 ** 32 - 1)
  readonly counters: RtcpCounters = { received: 0, sent: 0, senderReportsForwarded: 0, refused: 0, overRate: 0 }

  constructor(
    readonly cname: string,
    readonly intervalMs: number,
  ) {}

  /** A compound packet from a bound connection; false when it is not RTCP at all. */
  receive(from: Binding, packet: Buffer, now: number): boolean {
    // Reading one costs work per report block and participant: a flood is dropped unread.
    if (now - from.rtcp.windowStart >= 1000) {
      from.rtcp.windowStart = now
      from.rtcp.windowPackets = 0
    }
    if (++from.rtcp.windowPackets > MAX_PER_SECOND) {
      this.counters.overRate++
      return true
    }
    const parts = Rtcp.decode(packet)
    if (parts === undefined) return false
    this.counters.received++
    from.rtcp.reportsIn++
    const declared = from.participant.ssrcs[from.kind]
    let cname: string | undefined
    for (const part of parts) if (part.type === "SDES") cname ??= part.chunks.find((c) => c.ssrc === declared)?.cname
    for (const part of parts) {
      if (part.type !== "SR" && part.type !== "RR") continue
      this.takeReports(from, part.reports, now)
      if (part.type !== "SR") continue
      if (declared === undefined || part.ssrc !== declared >>> 0) {
        this.counters.refused++
        continue
      }
      from.rtcp.lastSr = Rtcp.compactNtp(part.sender.ntpSeconds, part.sender.ntpFraction)
      from.rtcp.lastSrAt = now
      this.passOn(from, part, cname, now)
    }
    return true
  }

  private takeReports(from: Binding, reports: ReadonlyArray<Rtcp.ReportBlock>, now: number) {
    if (reports.length === 0) return
    // Only streams of this meeting and kind: a liar cannot grow what we keep.
    const known = new Set<number>()
    for (const p of from.participant.meeting.participants.values()) {
      const ssrc = p.ssrcs[from.kind]
      if (p !== from.participant && ssrc !== undefined) known.add(ssrc >>> 0)
    }
    // Reports on senders who left, or who stopped being reported on, go: what we keep is about now.
    for (const [ssrc, r] of from.rtcp.received) if (!known.has(ssrc) || now - r.at > STALE_MS) from.rtcp.received.delete(ssrc)
    for (const block of reports) {
      if (!known.has(block.ssrc)) continue
      from.rtcp.received.set(block.ssrc, {
        loss: block.fractionLost / 256,
        cumulativeLost: block.cumulativeLost,
        jitterMs: (block.jitter * 1000) / from.stats.source.clockRate,
        at: now,
      })
      if (block.lsr === 0) continue
      const sent = from.rtcp.forwarded.find((f) => f.compact === block.lsr)
      if (sent === undefined) continue
      const rtt = now - sent.at - (block.dlsr * 1000) / 65_536
      if (rtt >= 0 && rtt < 60_000) from.rtcp.rttMs = rtt
    }
  }

  /** The sender info alone (its report blocks were about this hop), with its CNAME. */
  private passOn(from: Binding, sr: Extract<Rtcp.RtcpPart, { type: "SR" }>, cname: string | undefined, now: number) {
    const packet = Rtcp.encode([
      { type: "SR", ssrc: sr.ssrc, sender: sr.sender, reports: [] },
      { type: "SDES", chunks: [cname !== undefined ? { ssrc: sr.ssrc, cname } : { ssrc: sr.ssrc }] },
    ])
    const compact = Rtcp.compactNtp(sr.sender.ntpSeconds, sr.sender.ntpFraction)
    let framed: Buffer | undefined
    for (const to of from.participant.meeting.receivers[from.kind]) {
      if (to === from) continue
      if (framed === undefined && to.endpoint.transport !== "udp") framed = frame(packet)
      if (!to.endpoint.send(packet, framed)) continue
      this.counters.senderReportsForwarded++
      to.rtcp.forwarded.push({ compact, at: now })
      if (to.rtcp.forwarded.length > FORWARDED_KEPT) to.rtcp.forwarded.shift()
    }
  }

  /** Sends the connection its receiver report when one is due (and its stream has begun). */
  tick(b: Binding, now: number): void {
    if (now < b.rtcp.nextReport) return
    b.rtcp.nextReport = now + this.intervalMs * (0.5 + Math.random())
    const ssrc = b.participant.ssrcs[b.kind]
    if (ssrc === undefined || b.stats.source.expected === 0) return
    const block = b.stats.source.reportBlock()
    b.rtcp.upLoss = block.fractionLost / 256
    const packet = Rtcp.encode([
      {
        type: "RR",
        ssrc: this.ssrc,
        reports: [
          {
            ssrc: ssrc >>> 0,
            ...block,
            lsr: b.rtcp.lastSr,
            dlsr: b.rtcp.lastSr === 0 ? 0 : Math.round((now - b.rtcp.lastSrAt) * 65.536) >>> 0,
          },
        ],
      },
      { type: "SDES", chunks: [{ ssrc: this.ssrc, cname: this.cname }] },
    ])
    if (b.endpoint.send(packet, b.endpoint.transport === "udp" ? undefined : frame(packet))) {
      this.counters.sent++
      b.rtcp.reportsOut++
    }
  }
}

/** Both directions of one media kind over many connections, for metrics. @category models */
export interface KindQuality {
  /** Participant → MMR: what our receiver reports said (loss in the last interval) and our jitter. */
  readonly in: { readonly loss: number; readonly jitterMs: number; readonly connections: number }
  /** MMR → participant: what the receivers' own reports said. */
  readonly out: { readonly loss: number; readonly jitterMs: number; readonly reports: number }
  /** Mean round trip over the connections that have one. */
  readonly rtt: { readonly ms: number; readonly connections: number }
}

/**
 * Means per kind over `bindings` (those whose stream has begun, those with
 * reports, those with a round trip).
 *
 * @category stats
 */
export const quality = (bindings: Iterable<Binding>): Record<string, KindQuality> => {
  const sums: Record<string, { inLoss: number; inJitter: number; inN: number; outLoss: number; outJitter: number; outN: number; rtt: number; rttN: number }> = {}
  for (const b of bindings) {
    const s = (sums[b.kind] ??= { inLoss: 0, inJitter: 0, inN: 0, outLoss: 0, outJitter: 0, outN: 0, rtt: 0, rttN: 0 })
    if (b.stats.source.expected > 0) {
      s.inLoss += b.rtcp.upLoss
      s.inJitter += b.stats.source.jitterMs
      s.inN++
    }
    for (const r of b.rtcp.received.values()) {
      s.outLoss += r.loss
      s.outJitter += r.jitterMs
      s.outN++
    }
    if (b.rtcp.rttMs !== undefined) {
      s.rtt += b.rtcp.rttMs
      s.rttN++
    }
  }
  const mean = (sum: number, n: number) => (n === 0 ? 0 : sum / n)
  return Object.fromEntries(
    Object.entries(sums).map(([kind, s]) => [
      kind,
      {
        in: { loss: mean(s.inLoss, s.inN), jitterMs: mean(s.inJitter, s.inN), connections: s.inN },
        out: { loss: mean(s.outLoss, s.outN), jitterMs: mean(s.outJitter, s.outN), reports: s.outN },
        rtt: { ms: mean(s.rtt, s.rttN), connections: s.rttN },
      },
    ]),
  )
}
