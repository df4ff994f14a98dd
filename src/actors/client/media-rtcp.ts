/**
 * RTCP at the client, for one media kind (RFC 3550 §6; muxed with RTP on
 * the kind's connection, RFC 5761):
 *
 *   every interval (randomised 0.5–1.5×)   an SR about our stream once it has
 *                                          begun (else an RR), with a report block
 *                                          per sender we receive, and our CNAME
 *   an SR passed on by the MMR             remembered for the LSR/DLSR of our blocks
 *   the MMR's RR about our stream          our upstream: loss, jitter, and the
 *                                          round trip from its LSR/DLSR
 *
 * What we receive we measure ourselves (RTP sequence numbers and times,
 * media-session.ts); this adds what only the far end knows.
 *
 * @since 0.3.0
 */
import * as Rtcp from "../../protocol/rtcp.js"
import type { SourceStats } from "../../protocol/rtp.js"
import { ssrc as ssrcOf, timestamp as timestampOf, HEADER_SIZE } from "../../protocol/rtp.js"

/** What the MMR last said of our stream. @category models */
export interface Upstream {
  /** Lost in its last interval, 0..1. */
  readonly loss: number
  readonly lost: number
  readonly jitterMs: number
  readonly rttMs?: number
}

/** Most SRs remembered: one per sender of the kind, and a sender is a participant. */
const SENDERS_KEPT = 256

/** @category constructors */
export class KindRtcp {
  /** RTP packets and payload octets sent, for the SR's sender info. */
  private packets = 0
  private octets = 0
  private lastRtp = 0
  private lastRtpAt = 0
  private readonly senderReports = new Map<number, { readonly compact: number; readonly at: number }>()
  up: Upstream | undefined
  rttMs: number | undefined
  sent = 0
  received = 0
  /** Well-formed RTCP that was not for us, or broken RTCP: dropped. */
  ignored = 0
  nextAt = 0

  constructor(
    /** Ours, as declared in Join. */
    readonly ssrc: number,
    readonly clockRate: number,
    readonly cname: string,
    private readonly wallClock: () => number = Date.now,
  ) {}

  /** An RTP packet of ours going out (before SRTP: the header is the same, the payload length nearly). */
  noteSent(packet: Uint8Array, now: number): void {
    if (ssrcOf(packet) !== this.ssrc >>> 0) return
    this.packets++
    this.octets += Math.max(0, packet.length - HEADER_SIZE)
    this.lastRtp = timestampOf(packet)
    this.lastRtpAt = now
  }

  /** An RTCP compound packet that arrived on the kind's connection. */
  onPacket(packet: Uint8Array, now: number): void {
    const parts = Rtcp.decode(packet)
    if (parts === undefined) {
      this.ignored++
      return
    }
    this.received++
    const arrival = Rtcp.ntpOf(this.wallClock())
    for (const part of parts) {
      if (part.type === "SR" && part.ssrc !== this.ssrc >>> 0) {
        if (this.senderReports.size >= SENDERS_KEPT && !this.senderReports.has(part.ssrc)) continue
        this.senderReports.set(part.ssrc, { compact: Rtcp.compactNtp(part.sender.ntpSeconds, part.sender.ntpFraction), at: now })
      }
      if (part.type !== "SR" && part.type !== "RR") continue
      const mine = part.reports.find((b) => b.ssrc === this.ssrc >>> 0)
      if (mine === undefined) continue
      const rtt = Rtcp.roundTripMs(Rtcp.compactNtp(arrival.seconds, arrival.fraction), mine)
      if (rtt !== undefined) this.rttMs = rtt
      this.up = {
        loss: mine.fractionLost / 256,
        lost: mine.cumulativeLost,
        jitterMs: (mine.jitter * 1000) / this.clockRate,
        ...(this.rttMs !== undefined ? { rttMs: this.rttMs } : {}),
      }
    }
  }

  /** Our compound packet, about `sources` (the senders we receive on this kind). */
  compound(sources: ReadonlyMap<number, SourceStats>, now: number): Buffer {
    const reports: Array<Rtcp.ReportBlock> = []
    for (const [ssrc, stats] of sources) {
      if (reports.length === Rtcp.MAX_REPORTS) break
      if (ssrc === this.ssrc >>> 0 || stats.expected === 0) continue
      const sr = this.senderReports.get(ssrc)
      reports.push({
        ssrc,
        ...stats.reportBlock(),
        lsr: sr?.compact ?? 0,
        dlsr: sr === undefined ? 0 : Math.round((now - sr.at) * 65.536) >>> 0,
      })
    }
    const head: Rtcp.RtcpPart =
      this.packets === 0
        ? { type: "RR", ssrc: this.ssrc >>> 0, reports }
        : {
            type: "SR",
            ssrc: this.ssrc >>> 0,
            sender: (() => {
              const ntp = Rtcp.ntpOf(this.wallClock())
              return {
                ntpSeconds: ntp.seconds,
                ntpFraction: ntp.fraction,
                // The RTP time of this instant, on the media clock of our last packet (RFC 3550 §6.4.1).
                rtpTimestamp: (this.lastRtp + Math.round(((now - this.lastRtpAt) * this.clockRate) / 1000)) >>> 0,
                packets: this.packets >>> 0,
                octets: this.octets >>> 0,
              }
            })(),
            reports,
          }
    this.sent++
    return Rtcp.encode([head, { type: "SDES", chunks: [{ ssrc: this.ssrc >>> 0, cname: this.cname }] }])
  }

  /** For the join report. */
  report(): { sent: number; received: number; up?: Upstream; rttMs?: number } {
    return {
      sent: this.sent,
      received: this.received,
      ...(this.up !== undefined ? { up: this.up } : {}),
      ...(this.rttMs !== undefined ? { rttMs: Math.round(this.rttMs * 100) / 100 } : {}),
    }
  }
}
