/**
 * An MMR's media listeners — UDP and TCP on the media port, TLS on its own —
 * and how their packets reach the SFU:
 *
 *   first byte 0–3 (STUN)   Binding Request → the token binds this source/connection
 *                           Binding Indication → a keepalive
 *   first byte 128–191      RTP/RTCP from a bound source → forwarded; unbound → dropped, counted
 *   anything else           dropped, counted
 *
 * A stream connection must bind with its first packet, within 10 s; a frame
 * that is not RFC 4571 closes it. Every 250 ms a sweep closes connections
 * silent for the configured time and sends keepalives to idle ones.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type { Scope } from "effect"
import { Data, Effect, Either } from "effect"
import { frame } from "../../protocol/framing.js"
import type { MediaKind, MediaTransport } from "../../protocol/media.js"
import { defaultDscp, mediaKinds } from "../../protocol/media.js"
import type { KindCounters } from "../../protocol/mmr.js"
import * as MediaToken from "../../protocol/media-token.js"
import * as Stun from "../../protocol/stun.js"
import type { MediaEndpoints } from "../../protocol/zone.js"
import type { StreamConnection, StreamHandlers } from "../../transports/media/stream.js"
import * as Stream from "../../transports/media/stream.js"
import * as NativeUdp from "../../transports/media/native-udp.js"
import * as Udp from "../../transports/media/udp.js"
import type { TlsIdentity } from "../../transports/tls.js"
import type { BindRefusal, Binding, MediaEndpoint } from "./sfu.js"
import { Sfu } from "./sfu.js"

/** @category models */
export interface MediaPlaneConfig {
  readonly bindHost: string
  /** What clients are told to dial; default the bind host. */
  readonly advertiseHost?: string
  /** UDP and TCP (0: any free port; the same number for both). */
  readonly port: number
  /** TLS (0: any free port). */
  readonly tlsPort: number
  readonly tls: TlsIdentity
  readonly dscp?: Partial<Record<MediaKind, number>>
  /** A connection silent this long is closed. Default 3000 ms. */
  readonly silenceMs?: number
  readonly keepaliveMs?: number
  readonly tokenTtlSeconds?: number
  /** Per participant and kind, each second: more is dropped and counted. */
  readonly maxPacketsPerSecond?: number
  readonly maxBytesPerSecond?: number
  /** Between RTCP receiver reports to each connection. Default 1000 ms. */
  readonly rtcpIntervalMs?: number
  /** The CNAME in the MMR's RTCP. */
  readonly cname?: string
}

/** @category models */
export interface MediaPlane {
  readonly endpoints: MediaEndpoints
  readonly sfu: Sfu
  /** Media packets received per second since the last call. */
  readonly packetsPerSecond: () => number
  readonly streamConnections: () => number
}

/** @category errors */
export class MediaPlaneError extends Data.TaggedError("MediaPlaneError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

const refusal: Record<BindRefusal, readonly [number, string]> = {
  malformed: [400, "malformed media token"],
  forged: [401, "media token not valid here"],
  "unknown-participant": [401, "not a participant of that meeting"],
  expired: [438, "media token expired"],
  replayed: [438, "media token already used"],
}

/** Nested maps: the per-packet lookup builds no string key. */
class UdpSources {
  private readonly byAddress = new Map<string, Map<number, { binding: Binding; transaction: string }>>()
  get(address: string, port: number) {
    return this.byAddress.get(address)?.get(port)
  }
  set(address: string, port: number, value: { binding: Binding; transaction: string }) {
    let ports = this.byAddress.get(address)
    if (ports === undefined) this.byAddress.set(address, (ports = new Map()))
    ports.set(port, value)
  }
  /** Forgets the source if it still belongs to `endpoint` (a newer binding may have taken it). */
  delete(address: string, port: number, endpoint: MediaEndpoint) {
    const ports = this.byAddress.get(address)
    if (ports?.get(port)?.binding.endpoint === endpoint) ports.delete(port)
    if (ports?.size === 0) this.byAddress.delete(address)
  }
}

/**
 * Opens the listeners for the life of the scope.
 *
 * @category constructors
 */
export const start = (config: MediaPlaneConfig): Effect.Effect<MediaPlane, MediaPlaneError, Scope.Scope> =>
  Effect.gen(function* () {
    const dscp = { ...defaultDscp, ...config.dscp }
    const sfu = new Sfu({
      tokens: MediaToken.make(),
      ...(config.silenceMs !== undefined ? { silenceMs: config.silenceMs } : {}),
      ...(config.keepaliveMs !== undefined ? { keepaliveMs: config.keepaliveMs } : {}),
      ...(config.maxPacketsPerSecond !== undefined ? { maxPacketsPerSecond: config.maxPacketsPerSecond } : {}),
      ...(config.maxBytesPerSecond !== undefined ? { maxBytesPerSecond: config.maxBytesPerSecond } : {}),
      ...(config.tokenTtlSeconds !== undefined ? { tokenTtlSeconds: config.tokenTtlSeconds } : {}),
      ...(config.rtcpIntervalMs !== undefined ? { rtcpIntervalMs: config.rtcpIntervalMs } : {}),
      ...(config.cname !== undefined ? { cname: config.cname } : {}),
    })
    const keepalive = Stun.bindingIndication(randomBytes(12))
    const keepaliveFramed = frame(keepalive)
    const sources = new UdpSources()
    let packetsIn = 0
    let lastRate = { packets: 0, at: performance.now() }

    const bindReply = (transaction: Buffer, result: Either.Either<Binding, BindRefusal>, address: string, port: number) =>
      Either.isRight(result)
        ? Stun.bindingSuccess(transaction, address, port)
        : Stun.bindingError(transaction, ...refusal[result.left])

    // --- UDP ------------------------------------------------------------------------

    let udp: Udp.UdpPort | undefined
    const onDatagram = (packet: Buffer, address: string, port: number) => {
      const first = packet[0]
      if (first !== undefined && first >= 128 && first <= 191) {
        const source = sources.get(address, port)
        if (source === undefined) sfu.counters.unbound++
        else {
          packetsIn++
          sfu.forward(source.binding, packet)
        }
        return
      }
      const message = first !== undefined && first < 4 ? Stun.decode(packet) : undefined
      if (message === undefined) {
        sfu.counters.malformed++
        return
      }
      if (message.type === Stun.Type.BindingIndication) {
        const source = sources.get(address, port)
        if (source !== undefined) sfu.heard(source.binding)
        return
      }
      if (message.type !== Stun.Type.BindingRequest) {
        sfu.counters.malformed++
        return
      }
      const existing = sources.get(address, port)
      const token = Stun.username(message)
      if (token === undefined) {
        // No token: a bound source's consent check, or anyone's reachability probe (as a STUN server answers).
        if (existing !== undefined && !existing.binding.closed) {
          sfu.counters.consents++
          sfu.heard(existing.binding)
        } else sfu.counters.probes++
        udp!.send(Stun.bindingSuccess(message.transactionId, address, port), port, address, existing !== undefined ? dscp[existing.binding.kind] : 0)
        return
      }
      const transaction = message.transactionId.toString("hex")
      if (existing !== undefined && existing.transaction === transaction && !existing.binding.closed) {
        // A retransmitted request whose answer was lost: answer again.
        udp!.send(Stun.bindingSuccess(message.transactionId, address, port), port, address, dscp[existing.binding.kind])
        return
      }
      const result = sfu.bind(token, "udp", (kind) => {
              const mark = dscp[kind]
              const endpoint: MediaEndpoint = {
                transport: "udp",
                remote: `${address}:${port}`,
                send: (p) => {
                  udp!.send(p, port, address, mark)
                  return true
                },
                close: () => sources.delete(address, port, endpoint),
              }
              return endpoint
            })
      if (Either.isRight(result)) sources.set(address, port, { binding: result.right, transaction })
      const reply = bindReply(message.transactionId, result, address, port)
      udp!.send(reply, port, address, Either.isRight(result) ? dscp[result.right.kind] : 0)
    }

    // --- TCP and TLS ------------------------------------------------------------------

    const onStream =
      (transport: Exclude<MediaTransport, "udp">) =>
      (conn: StreamConnection): StreamHandlers => {
        let bound: Binding | undefined
        conn.setIdleTimeout(10_000)
        return {
          onPacket: (packet) => {
            const first = packet[0]!
            let message: Stun.StunMessage | undefined
            if (bound !== undefined) {
              if (first >= 128 && first <= 191) {
                packetsIn++
                sfu.forward(bound, packet)
              } else if (first < 4 && (message = Stun.decode(packet)) !== undefined && message.type === Stun.Type.BindingIndication) {
                sfu.heard(bound)
              } else if (message !== undefined && message.type === Stun.Type.BindingRequest && Stun.username(message) === undefined) {
                // A consent check: the client making sure its media still goes both ways.
                sfu.counters.consents++
                sfu.heard(bound)
                conn.write(frame(Stun.bindingSuccess(message.transactionId, conn.remoteAddress, conn.remotePort)))
              } else {
                sfu.counters.malformed++
              }
              return
            }
            message = first < 4 ? Stun.decode(packet) : undefined
            if (message?.type !== Stun.Type.BindingRequest) {
              // Nothing may flow before a binding: count it and hang up.
              if (first >= 128 && first <= 191) sfu.counters.unbound++
              else sfu.counters.malformed++
              conn.close()
              return
            }
            const token = Stun.username(message)
            const result =
              token === undefined
                ? Either.left<BindRefusal>("malformed")
                : sfu.bind(token, transport, (kind) => {
                    conn.setDscp(dscp[kind])
                    return {
                      transport,
                      remote: conn.remote,
                      send: (p, framed) => conn.write(framed ?? frame(p)),
                      close: () => conn.close(),
                    }
                  })
            conn.write(frame(bindReply(message.transactionId, result, conn.remoteAddress, conn.remotePort)))
            if (Either.isRight(result)) {
              bound = result.right
              conn.setIdleTimeout(0)
            } else {
              setTimeout(() => conn.close(), 50) // let the error answer out first
            }
          },
          onMalformed: () => void sfu.counters.malformed++,
          onClose: () => {
            if (bound !== undefined) sfu.unbind(bound, "connection closed")
          },
        }
      }

    // UDP and TCP share one port number. With an ephemeral port, the number UDP
    // got may be taken for TCP by someone else: then try another pair (bounded).
    const openPair = Effect.gen(function* () {
      const u = yield* Effect.tryPromise({
        try: () => Udp.open({ host: config.bindHost, port: config.port, onMessage: onDatagram }),
        catch: (e) => new MediaPlaneError({ detail: `UDP ${config.bindHost}:${config.port}: ${String(e)}` }),
      })
      const t = yield* Effect.tryPromise({
        try: () => Stream.listen({ host: config.bindHost, port: u.port, onConnection: onStream("tcp") }),
        catch: (e) => new MediaPlaneError({ detail: `TCP ${config.bindHost}:${u.port}: ${String(e)}` }),
      }).pipe(Effect.onError(() => Effect.promise(() => u.close())))
      return { u, t }
    })
    const pair = yield* Effect.acquireRelease(
      config.port === 0 ? Effect.retry(openPair, { times: 10 }) : openPair,
      ({ u, t }) => Effect.promise(() => Promise.all([u.close(), t.close()])),
    )
    udp = pair.u
    // Operators should know which data path forwards their media.
    yield* Effect.logInfo(`media plane: UDP on ${udp.native ? NativeUdp.status() : NativeUdp.status().startsWith("native") ? "through dgram (an IPv6 socket)" : NativeUdp.status()}`)
    const tcp = pair.t
    const tls = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => Stream.listen({ host: config.bindHost, port: config.tlsPort, tls: config.tls, onConnection: onStream("tls") }),
        catch: (e) => new MediaPlaneError({ detail: `TLS ${config.bindHost}:${config.tlsPort}: ${String(e)}` }),
      }),
      (l) => Effect.promise(() => l.close()),
    )

    // --- housekeeping -------------------------------------------------------------------

    const sweep = setInterval(
      () =>
        sfu.sweep((b) => {
          if (b.endpoint.transport === "udp") b.endpoint.send(keepalive, undefined)
          else b.endpoint.send(keepalive, keepaliveFramed)
        }),
      250,
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sweep)))

    return {
      endpoints: { host: config.advertiseHost ?? config.bindHost, port: udp.port, tlsPort: tls.port },
      sfu,
      packetsPerSecond: () => {
        const now = performance.now()
        const rate = ((packetsIn - lastRate.packets) * 1000) / Math.max(1, now - lastRate.at)
        lastRate = { packets: packetsIn, at: now }
        return rate
      },
      streamConnections: () => tcp.connections() + tls.connections(),
    }
  })

/**
 * One participant's counters of each kind, as MediaStats tells them: zeros
 * for a participant without media here (no media plane, not admitted yet, or
 * gone) — every kind is always there, as the reply's schema says.
 *
 * @category stats
 */
export const participantCounters = (plane: MediaPlane | undefined, meeting: string, participant: string): Record<MediaKind, KindCounters> => {
  const zero: KindCounters = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, drops: 0, refused: 0, loss: 0, jitterMs: 0 }
  const out: Record<MediaKind, KindCounters> = { audio: zero, video: zero, content: zero }
  const stats = plane?.sfu.participantStats(meeting, participant)
  if (stats !== undefined) {
    for (const kind of mediaKinds) {
      const k = stats[kind]
      out[kind] = {
        packetsIn: k.packetsIn,
        bytesIn: k.bytesIn,
        packetsOut: k.packetsOut,
        bytesOut: k.bytesOut,
        drops: k.drops,
        refused: k.refused,
        loss: k.source.loss,
        jitterMs: k.source.jitterMs,
      }
    }
  }
  return out
}
