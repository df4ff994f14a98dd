/**
 * A client's media once connected: one socket per kind; what arrives is
 * counted per sender (by SSRC, RFC 3550 loss and jitter) and handed to
 * whoever listens. Each socket sends a consent check (a STUN Binding Request
 * without a token, answered by the MMR) every `consentMs`, in the manner of
 * ICE consent freshness (RFC 7675) but on a sub-second budget: the time since
 * the last answer says whether media still goes both ways (`mutedMs`). With
 * consent off, keepalives go out when a socket has been quiet. A socket that
 * hears nothing for the silence time is closed.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type { Scope } from "effect"
import { Effect, Schedule, Stream } from "effect"
import type { MediaKindReport } from "../../protocol/join-report.js"
import type { MediaKind } from "../../protocol/media.js"
import { clockRate } from "../../protocol/media.js"
import { SourceStats, isRtcp, isRtp, ssrc as ssrcOf } from "../../protocol/rtp.js"
import * as Stun from "../../protocol/stun.js"
import type { MediaSocket } from "../../transports/media/client.js"
import type { MediaCrypto } from "./media-crypto.js"
import { KindRtcp } from "./media-rtcp.js"

/** @category models */
export interface KindConnection {
  readonly kind: MediaKind
  readonly socket: MediaSocket
  readonly dscp: number
}

/** @category models */
export interface MediaSession {
  readonly kinds: ReadonlyArray<MediaKind>
  /** Sends one RTP packet of `kind`; false when dropped or closed. */
  readonly send: (kind: MediaKind, packet: Buffer) => boolean
  /** Calls `handler` with every RTP packet of `kind` that arrives; returns the unsubscribe. */
  readonly onReceive: (kind: MediaKind, handler: (packet: Buffer) => void) => () => void
  /** Every RTP packet of `kind` that arrives from now on, as a Stream (buffered up to 1,024; the oldest go first). */
  readonly receive: (kind: MediaKind) => Stream.Stream<Buffer>
  /** Sends every packet of `packets` on `kind` (counted as sent), until it ends. */
  readonly sendAll: <E, R>(kind: MediaKind, packets: Stream.Stream<Uint8Array, E, R>) => Effect.Effect<void, E, R>
  /** Packets sent so far, per kind (the synthetic sender counts into these). */
  readonly sentCounters: Readonly<Record<MediaKind, { count: number }>>
  /** Per-kind report; `senderOf` names the participant behind an SSRC. */
  readonly report: (senderOf: (ssrc: number) => string | undefined) => ReadonlyArray<MediaKindReport>
  /**
   * Moves each kind onto a new connection (another MMR): the old socket is
   * closed; listeners, counters and per-sender statistics carry over.
   */
  readonly replace: (connections: ReadonlyArray<KindConnection>) => void
  /**
   * How long every open kind has gone without an answer to its consent checks
   * (the least of them): media is mute both ways when this grows. Undefined
   * with consent checks off or no kind open.
   */
  readonly mutedMs: () => number | undefined
  /** What `kind` sent, and what arrived on it (expected and lost, by sequence numbers), so far: an interval's loss from two readings. */
  readonly totals: (kind: MediaKind) => { readonly sent: number; readonly expected: number; readonly lost: number }
  /** `address:port` of our end of `kind`'s connection now. */
  readonly localOf: (kind: MediaKind) => string | undefined
  /** The transport `kind` is on now. */
  readonly transportOf: (kind: MediaKind) => MediaKindReport["transport"] | undefined
  /** Notes a change of `kind`'s transport during the meeting, for the report. */
  readonly noteChange: (kind: MediaKind, change: TransportChange) => void
}

/** A kind's move to another transport during a meeting (media-migration.ts). @category models */
export type TransportChange = NonNullable<MediaKindReport["changes"]>[number]

interface KindState {
  connection: KindConnection
  readonly sources: Map<number, SourceStats>
  readonly listeners: Array<(packet: Buffer) => void>
  lastHeard: number
  lastSent: number
  lastConsent: number
  /** When a consent check was last answered (or the connection opened). */
  lastAnswered: number
  /** The consent checks in flight, by transaction id (hex): only our own answers count. */
  readonly consents: Set<string>
  status: string
  readonly rtcp: KindRtcp | undefined
}

/**
 * Runs the session for the life of the scope; closing the scope closes the sockets.
 *
 * @category constructors
 */
export const start = (
  connections: ReadonlyArray<KindConnection>,
  options: {
    readonly keepaliveMs?: number
    readonly silenceMs?: number
    /** Between consent checks; 0 turns them off. Default 250 ms. */
    readonly consentMs?: number
    /** The meeting's keys: media goes out as SRTP and only SRTP that authenticates comes in. */
    readonly crypto?: MediaCrypto
    /** RTCP reports on every kind (media-rtcp.ts): our SSRCs as declared, our CNAME, the interval (0: none). Default 1000 ms. */
    readonly rtcp?: { readonly ssrcs: Readonly<Record<MediaKind, number>>; readonly cname: string; readonly intervalMs?: number }
  } = {},
): Effect.Effect<MediaSession, never, Scope.Scope> =>
  Effect.gen(function* () {
    const keepaliveMs = options.keepaliveMs ?? 1000
    const silenceMs = options.silenceMs ?? 3000
    const consentMs = options.consentMs ?? 250
    const crypto = options.crypto
    const rtcpEveryMs = options.rtcp?.intervalMs ?? 1000
    const indication = Stun.bindingIndication(randomBytes(12))
    const changes: Partial<Record<MediaKind, Array<TransportChange>>> = {}
    const states = new Map<MediaKind, KindState>()
    const sentCounters = { audio: { count: 0 }, video: { count: 0 }, content: { count: 0 } }

    const attach = (state: KindState, connection: KindConnection) => {
      state.connection = connection
      state.status = "open"
      state.lastHeard = performance.now()
      state.lastAnswered = state.lastHeard
      state.consents.clear()
      connection.socket.onPacket((received) => {
        let packet = received
        if (state.connection !== connection) return // a socket being replaced
        state.lastHeard = performance.now()
        if (!isRtp(packet)) {
          if (isRtcp(packet)) return void state.rtcp?.onPacket(packet, state.lastHeard)
          // Keepalives, stray STUN — and the answers to our consent checks.
          const message = Stun.decode(packet)
          if (message?.type === Stun.Type.BindingSuccess && state.consents.delete(message.transactionId.toString("hex"))) {
            state.lastAnswered = state.lastHeard
            state.consents.clear() // older checks answered late say nothing newer
          }
          return
        }
        if (crypto !== undefined) {
          const plain = crypto.unprotect(connection.kind, packet)
          if (plain === undefined) return // refused, and counted by why
          packet = plain
        }
        const ssrc = ssrcOf(packet)
        let stats = state.sources.get(ssrc)
        if (stats === undefined) state.sources.set(ssrc, (stats = new SourceStats(clockRate[connection.kind])))
        stats.update(packet, state.lastHeard)
        for (const l of state.listeners) l(packet)
      })
      connection.socket.onClose((reason) => {
        if (state.connection === connection && state.status === "open") state.status = `closed: ${reason}`
      })
    }
    for (const connection of connections) {
      const state: KindState = {
        connection,
        sources: new Map(),
        listeners: [],
        lastHeard: performance.now(),
        lastSent: performance.now(),
        lastConsent: 0,
        lastAnswered: performance.now(),
        consents: new Set(),
        status: "open",
        rtcp:
          options.rtcp !== undefined && rtcpEveryMs > 0
            ? new KindRtcp(options.rtcp.ssrcs[connection.kind], clockRate[connection.kind], options.rtcp.cname)
            : undefined,
      }
      states.set(connection.kind, state)
      attach(state, connection)
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const s of states.values()) s.connection.socket.close()
      }),
    )

    const housekeeping = Effect.sync(() => {
      const now = performance.now()
      for (const s of states.values()) {
        if (s.status !== "open") continue
        if (s.rtcp !== undefined && now >= s.rtcp.nextAt) {
          s.rtcp.nextAt = now + rtcpEveryMs * (0.5 + Math.random())
          s.connection.socket.send(s.rtcp.compound(s.sources, now))
        }
        if (now - s.lastHeard > silenceMs) {
          s.status = `closed: silent for ${Math.round(now - s.lastHeard)} ms`
          s.connection.socket.close()
        } else if (consentMs > 0 && now - s.lastConsent >= consentMs) {
          s.lastConsent = now
          const transaction = randomBytes(12)
          // Bounded: a mute MMR answers none, and only the newest few matter.
          if (s.consents.size >= 16) s.consents.clear()
          s.consents.add(transaction.toString("hex"))
          s.lastSent = now
          s.connection.socket.send(Stun.consentRequest(transaction))
        } else if (consentMs === 0 && now - s.lastSent >= keepaliveMs) {
          s.lastSent = now
          s.connection.socket.send(indication)
        }
      }
    })
    const tick = consentMs > 0 ? Math.min(consentMs, 250) : Math.min(250, keepaliveMs / 2)
    yield* housekeeping.pipe(Effect.repeat(Schedule.spaced(tick)), Effect.forkScoped)

    const send = (kind: MediaKind, packet: Buffer) => {
      const s = states.get(kind)
      if (s === undefined || s.status !== "open") return false
      const out = crypto === undefined ? packet : crypto.protect(kind, packet)
      if (out === undefined) return false
      s.lastSent = performance.now()
      s.rtcp?.noteSent(packet, s.lastSent)
      return s.connection.socket.send(out)
    }
    const onReceive = (kind: MediaKind, handler: (packet: Buffer) => void) => {
      const listeners = states.get(kind)?.listeners
      listeners?.push(handler)
      return () => {
        const i = listeners?.indexOf(handler) ?? -1
        if (i >= 0) listeners!.splice(i, 1)
      }
    }

    return {
      kinds: connections.map((c) => c.kind),
      send,
      onReceive,
      receive: (kind) =>
        Stream.async<Buffer>((emit) => {
          const off = onReceive(kind, (packet) => void emit.single(packet))
          return Effect.sync(off)
        }, { bufferSize: 1024, strategy: "sliding" }),
      sendAll: (kind, packets) =>
        Stream.runForEach(packets, (packet) =>
          Effect.sync(() => {
            const buffer = Buffer.isBuffer(packet) ? packet : Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength)
            if (send(kind, buffer)) sentCounters[kind].count++
          }),
        ),
      replace: (next) => {
        for (const connection of next) {
          const state = states.get(connection.kind)
          if (state === undefined) {
            connection.socket.close()
            continue
          }
          const old = state.connection.socket
          attach(state, connection)
          old.close()
        }
      },
      sentCounters,
      mutedMs: () => {
        if (consentMs === 0) return undefined
        const now = performance.now()
        let least: number | undefined
        for (const s of states.values()) if (s.status === "open") least = Math.min(least ?? Infinity, now - s.lastAnswered)
        return least
      },
      totals: (kind) => {
        let expected = 0
        let lost = 0
        for (const stats of states.get(kind)?.sources.values() ?? []) {
          expected += stats.expected
          lost += stats.lost
        }
        return { sent: sentCounters[kind].count, expected, lost }
      },
      transportOf: (kind) => states.get(kind)?.connection.socket.transport,
      localOf: (kind) => states.get(kind)?.connection.socket.local,
      noteChange: (kind, change) => void (changes[kind] ??= []).push(change),
      report: (senderOf) =>
        [...states.values()].map((s): MediaKindReport => {
          let received = 0
          let expected = 0
          let lost = 0
          let jitter = 0
          const receivedFrom: Record<string, number> = {}
          for (const [ssrc, stats] of s.sources) {
            received += stats.packets
            expected += stats.expected
            lost += stats.lost
            jitter += stats.jitterMs
            const who = senderOf(ssrc) ?? `ssrc:${ssrc}`
            receivedFrom[who] = (receivedFrom[who] ?? 0) + stats.packets
          }
          return {
            kind: s.connection.kind,
            transport: s.connection.socket.transport,
            dscp: s.connection.dscp,
            marked: s.connection.socket.marked,
            local: s.connection.socket.local,
            sent: sentCounters[s.connection.kind].count,
            received,
            receivedFrom,
            loss: expected === 0 ? 0 : Math.round((lost / expected) * 10_000) / 10_000,
            jitterMs: s.sources.size === 0 ? 0 : Math.round((jitter / s.sources.size) * 100) / 100,
            status: s.status,
            ...(s.rtcp !== undefined ? { rtcp: s.rtcp.report() } : {}),
            ...(changes[s.connection.kind] !== undefined ? { changes: [...changes[s.connection.kind]!] } : {}),
            ...(crypto !== undefined
              ? {
                  encryption: {
                    profile: "AEAD_AES_256_GCM",
                    sendingEpoch: crypto.sendingEpoch(),
                    epochs: [...crypto.epochs()],
                    ...crypto.counters[s.connection.kind],
                    ...(crypto.endToEnd !== undefined
                      ? {
                          endToEnd: {
                            securityCode: crypto.endToEnd.securityCode(),
                            ...(crypto.endToEnd.leader() !== undefined ? { leader: crypto.endToEnd.leader()! } : {}),
                            ...crypto.endToEnd.counters,
                          },
                        }
                      : {}),
                  },
                }
              : {}),
          }
        }),
    }
  })
