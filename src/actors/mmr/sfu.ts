/**
 * The SFU: who may bind media, which connection carries whose media, and the
 * forwarding of each RTP packet to every other participant of the meeting
 * with a connection of that kind — over whatever transport each uses. It
 * knows neither NATS nor sockets: transports hand it packets and endpoints.
 *
 * The per-packet path is plain code: no Effect, no closures, no string keys,
 * no copies (a packet is framed once for all stream receivers, if any).
 *
 * @since 0.1.0
 */
import { Either } from "effect"
import { frame } from "../../protocol/framing.js"
import type { MediaKind, MediaTransport } from "../../protocol/media.js"
import { clockRate, mediaKinds, transportOrder } from "../../protocol/media.js"
import type { MediaTokenIssuer, MediaTokenSet } from "../../protocol/media-token.js"
import { SourceStats, isRtp, ssrc as ssrcOf } from "../../protocol/rtp.js"
import type { KindQuality } from "./rtcp-hop.js"
import { HopRtcp, RtcpTerminator, quality } from "./rtcp-hop.js"
import type { KindTotals, SfuCounters } from "./sfu-counters.js"
import { newTotals, zeroCounters } from "./sfu-counters.js"

/**
 * One media connection, as a transport gives it to the SFU.
 *
 * @category models
 */
export interface MediaEndpoint {
  readonly transport: MediaTransport
  /** `host:port` of the far end, for logs. */
  readonly remote: string
  /** Sends a packet (`framed` is the RFC 4571 form, for stream transports); false when dropped. */
  readonly send: (packet: Buffer, framed: Buffer | undefined) => boolean
  /** Closes the connection (or forgets the UDP source). */
  readonly close: (reason: string) => void
}

/** Counters of one (participant, kind). @category models */
export interface KindStats {
  packetsIn: number
  bytesIn: number
  packetsOut: number
  bytesOut: number
  /** Packets not sent to this receiver (slow or gone). */
  drops: number
  /** Incoming packets refused (wrong SSRC). */
  refused: number
  /** Incoming packets dropped for going over the participant's media rate. */
  overRate: number
  readonly source: SourceStats
}

/** A bound (participant, kind): the connection and its counters. @category models */
export class Binding {
  lastHeard: number
  lastSent: number
  closed = false
  readonly rtcp = new HopRtcp()
  /** This second's incoming packets and bytes, for the rate limit. */
  windowStart = 0
  windowPackets = 0
  windowBytes = 0
  /** The SSRC this connection sends, when its participant declared none: the first it sent. */
  latched: number | undefined
  constructor(
    readonly participant: ParticipantMedia,
    readonly kind: MediaKind,
    readonly endpoint: MediaEndpoint,
    readonly stats: KindStats,
    now: number,
  ) {
    this.lastHeard = now
    this.lastSent = now
  }
}

/** @category models */
export interface ParticipantMedia {
  readonly id: string
  readonly meeting: MeetingMedia
  readonly ssrcs: Partial<Record<MediaKind, number>>
  readonly bindings: Partial<Record<MediaKind, Binding>>
  readonly stats: Record<MediaKind, KindStats>
}

/** @category models */
export interface MeetingMedia {
  readonly id: string
  readonly participants: Map<string, ParticipantMedia>
  /** Bound connections per kind, kept as arrays for the forwarding loop. */
  readonly receivers: Record<MediaKind, Array<Binding>>
}

export type { KindTotals, SfuCounters } from "./sfu-counters.js"

/** @category models */
export type BindRefusal = "malformed" | "forged" | "expired" | "replayed" | "unknown-participant"

/** @category models */
export interface SfuOptions {
  readonly tokens: MediaTokenIssuer
  /** A connection silent this long is closed. Default 3000. */
  readonly silenceMs?: number
  /** Keepalives go to a connection idle this long. Default 1000. */
  readonly keepaliveMs?: number
  /** Media token lifetime. Default 300 s. */
  readonly tokenTtlSeconds?: number
  /** Monotonic milliseconds. */
  readonly now?: () => number
  /** Wall-clock milliseconds (token expiry). */
  readonly wallClock?: () => number
  /** Per participant and kind, each second: more is dropped and counted. Default 2,000 packets. */
  readonly maxPacketsPerSecond?: number
  /** Per participant and kind, each second. Default 4 MB (32 Mbit/s). */
  readonly maxBytesPerSecond?: number
  /** Between the RTCP receiver reports to each connection (randomised 0.5–1.5×). Default 1000 ms. */
  readonly rtcpIntervalMs?: number
  /** The CNAME in them. */
  readonly cname?: string
}

const newStats = (kind: MediaKind): KindStats => ({
  packetsIn: 0,
  bytesIn: 0,
  packetsOut: 0,
  bytesOut: 0,
  drops: 0,
  refused: 0,
  overRate: 0,
  source: new SourceStats(clockRate[kind]),
})


/** @category constructors */
export class Sfu {
  readonly byKind: Record<MediaKind, KindTotals> = { audio: newTotals(), video: newTotals(), content: newTotals() }
  readonly counters: SfuCounters = zeroCounters()
  readonly rtcp: RtcpTerminator
  private readonly meetings = new Map<string, MeetingMedia>()
  private readonly spentNonces = new Map<string, number>()
  private readonly silenceMs: number
  private readonly keepaliveMs: number
  private readonly tokenTtl: number
  readonly now: () => number
  private readonly wallClock: () => number
  private readonly maxPackets: number
  private readonly maxBytes: number

  constructor(private readonly options: SfuOptions) {
    this.silenceMs = options.silenceMs ?? 3000
    this.keepaliveMs = options.keepaliveMs ?? 1000
    this.tokenTtl = options.tokenTtlSeconds ?? 300
    this.now = options.now ?? (() => performance.now())
    this.wallClock = options.wallClock ?? Date.now
    this.maxPackets = options.maxPacketsPerSecond ?? 2000
    this.maxBytes = options.maxBytesPerSecond ?? 4_000_000
    this.rtcp = new RtcpTerminator(options.cname ?? "mmr", options.rtcpIntervalMs ?? 1000)
  }

  // --- control side -------------------------------------------------------------

  /** Lets a participant bind media; returns its tokens (per kind, per transport). */
  admit(meeting: string, participant: string, ssrcs: Partial<Record<MediaKind, number>>): MediaTokenSet {
    let m = this.meetings.get(meeting)
    if (m === undefined) {
      m = { id: meeting, participants: new Map(), receivers: { audio: [], video: [], content: [] } }
      this.meetings.set(meeting, m)
    }
    const existing = m.participants.get(participant)
    if (existing === undefined) {
      m.participants.set(participant, {
        id: participant,
        meeting: m,
        ssrcs,
        bindings: {},
        stats: { audio: newStats("audio"), video: newStats("video"), content: newStats("content") },
      })
    } else {
      Object.assign(existing.ssrcs, ssrcs)
    }
    const now = this.wallClock()
    const tokens: Record<string, Record<string, string>> = {}
    for (const kind of mediaKinds) {
      tokens[kind] = {}
      for (const transport of transportOrder) {
        tokens[kind]![transport] = this.options.tokens.issue({ meeting, participant, kind, transport }, this.tokenTtl, now)
      }
    }
    return tokens as MediaTokenSet
  }

  /** The participant is gone: its connections close, its tokens no longer bind. */
  remove(meeting: string, participant: string): void {
    const m = this.meetings.get(meeting)
    const p = m?.participants.get(participant)
    if (m === undefined || p === undefined) return
    for (const kind of mediaKinds) {
      const b = p.bindings[kind]
      if (b !== undefined) this.unbind(b, "participant left")
    }
    m.participants.delete(participant)
    if (m.participants.size === 0) this.meetings.delete(meeting)
  }

  // --- binding ------------------------------------------------------------------

  /**
   * A connection presents a media token. On success it carries that
   * participant's media of that kind from now on, replacing any earlier one;
   * `makeEndpoint` builds its endpoint once the kind is known.
   */
  bind(
    token: string,
    transport: MediaTransport,
    makeEndpoint: (kind: MediaKind) => MediaEndpoint,
  ): Either.Either<Binding, BindRefusal> {
    const verified = this.options.tokens.verify(token, this.wallClock())
    if (Either.isLeft(verified)) {
      this.counters[verified.left]++
      return Either.left(verified.left)
    }
    const claims = verified.right
    if (claims.transport !== transport) {
      this.counters.forged++
      return Either.left("forged")
    }
    if (this.spentNonces.has(claims.nonce)) {
      this.counters.replayed++
      return Either.left("replayed")
    }
    const participant = this.meetings.get(claims.meeting)?.participants.get(claims.participant)
    if (participant === undefined) {
      this.counters.unknownParticipant++
      return Either.left("unknown-participant")
    }
    this.spentNonces.set(claims.nonce, claims.expiresAt * 1000)
    const previous = participant.bindings[claims.kind]
    if (previous !== undefined) this.unbind(previous, `replaced by a ${transport} connection`)
    const binding = new Binding(participant, claims.kind, makeEndpoint(claims.kind), participant.stats[claims.kind], this.now())
    participant.bindings[claims.kind] = binding
    participant.meeting.receivers[claims.kind].push(binding)
    this.counters.bound++
    return Either.right(binding)
  }

  /** Closes a binding's connection and stops forwarding to it. */
  unbind(binding: Binding, reason: string): void {
    if (binding.closed) return
    binding.closed = true
    const p = binding.participant
    if (p.bindings[binding.kind] === binding) delete p.bindings[binding.kind]
    const list = p.meeting.receivers[binding.kind]
    const i = list.indexOf(binding)
    if (i >= 0) list.splice(i, 1)
    binding.endpoint.close(reason)
  }

  // --- the forwarding loop --------------------------------------------------------

  /** One packet from a bound connection (RTP or RTCP). */
  forward(from: Binding, packet: Buffer): void {
    const now = this.now()
    from.lastHeard = now
    const stats = from.stats
    // A one-second window per binding: cheap on the hot path, and a flooding sender costs the others nothing.
    if (now - from.windowStart >= 1000) {
      from.windowStart = now
      from.windowPackets = 0
      from.windowBytes = 0
    }
    if (++from.windowPackets > this.maxPackets || (from.windowBytes += packet.length) > this.maxBytes) {
      stats.overRate++
      this.counters.overRate++
      return
    }
    if (isRtp(packet)) {
      // One sender, one SSRC per kind: the declared one, else the first this connection sent. Another is
      // someone else's stream (or a spray of new ones, each a new stream for every receiver to track).
      const ssrc = ssrcOf(packet)
      const declared = from.participant.ssrcs[from.kind] ?? from.latched
      if (declared === undefined) from.latched = ssrc
      else if (ssrc !== declared >>> 0) {
        stats.refused++
        this.counters.refused++
        return
      }
      stats.source.update(packet, now)
    } else {
      // RTCP ends here, hop by hop (rtcp-hop.ts); neither RTP nor RTCP, even from a bound participant, goes nowhere.
      if (!this.rtcp.receive(from, packet, now)) this.counters.malformed++
      return
    }
    stats.packetsIn++
    stats.bytesIn += packet.length
    const totals = this.byKind[from.kind]
    totals.packetsIn++
    totals.bytesIn += packet.length
    const receivers = from.participant.meeting.receivers[from.kind]
    let framed: Buffer | undefined
    for (let i = 0; i < receivers.length; i++) {
      const to = receivers[i]!
      if (to === from) continue
      if (framed === undefined && to.endpoint.transport !== "udp") framed = frame(packet)
      if (to.endpoint.send(packet, framed)) {
        to.lastSent = now
        to.stats.packetsOut++
        to.stats.bytesOut += packet.length
        totals.packetsOut++
        totals.bytesOut += packet.length
        this.counters.forwarded++
      } else {
        to.stats.drops++
        totals.drops++
      }
    }
  }

  /** Heard from a connection (a keepalive). */
  heard(binding: Binding): void {
    binding.lastHeard = this.now()
  }

  // --- housekeeping -----------------------------------------------------------------

  /**
   * Closes connections silent for too long; calls `keepalive` for those we
   * have not sent to lately; forgets spent nonces past their expiry.
   */
  sweep(keepalive: (binding: Binding) => void): void {
    const now = this.now()
    for (const m of this.meetings.values()) {
      for (const kind of mediaKinds) {
        for (const b of [...m.receivers[kind]]) {
          if (now - b.lastHeard > this.silenceMs) {
            this.counters.closedSilent++
            this.unbind(b, `silent for ${Math.round(now - b.lastHeard)} ms`)
          } else if (now - b.lastSent >= this.keepaliveMs) {
            b.lastSent = now
            keepalive(b)
          }
          this.rtcp.tick(b, now)
        }
      }
    }
    const wall = this.wallClock()
    for (const [nonce, expires] of this.spentNonces) if (expires < wall) this.spentNonces.delete(nonce)
  }

  /** Has the participant any media connection bound now? */
  hasMedia(meeting: string, participant: string): boolean {
    const p = this.meetings.get(meeting)?.participants.get(participant)
    return p !== undefined && mediaKinds.some((k) => p.bindings[k] !== undefined && !p.bindings[k]!.closed)
  }

  /** Counters of one participant, by kind. */
  participantStats(meeting: string, participant: string): Record<MediaKind, KindStats> | undefined {
    return this.meetings.get(meeting)?.participants.get(participant)?.stats
  }

  /** The participant's connection of `kind` now. */
  bindingOf(meeting: string, participant: string, kind: MediaKind): Binding | undefined {
    return this.meetings.get(meeting)?.participants.get(participant)?.bindings[kind]
  }

  /** Every bound connection now. */
  *allBindings(): Iterable<Binding> {
    for (const m of this.meetings.values()) for (const kind of mediaKinds) yield* m.receivers[kind]
  }

  /** Loss, jitter and round trip per kind, both directions, from RTCP (rtcp-hop.ts). */
  quality(): Record<string, KindQuality> {
    return quality(this.allBindings())
  }

  /** Bound connections now, by transport. */
  bindings(): Record<MediaTransport, number> {
    const out = { udp: 0, tcp: 0, tls: 0 }
    for (const b of this.allBindings()) out[b.endpoint.transport]++
    return out
  }
}
