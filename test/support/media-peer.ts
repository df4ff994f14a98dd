/**
 * A media plane of its own for tests (an MMR's listeners, no NATS), and raw
 * peers that bind and exchange RTP with it the way clients do.
 */
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import * as MediaPlane from "../../src/actors/mmr/media-plane.js"
import type { MediaKind, MediaTransport } from "../../src/protocol/media.js"
import { HEADER_SIZE, ssrc as ssrcOf, writeHeader } from "../../src/protocol/rtp.js"
import * as Stun from "../../src/protocol/stun.js"
import type { MediaSocket } from "../../src/transports/media/client.js"
import { openStream, openUdp } from "../../src/transports/media/client.js"
import * as Tls from "../../src/transports/tls.js"

export const MEETING = "1000000000"

/** An MMR media plane on loopback, with its CA. */
export const plane = (options: Partial<MediaPlane.MediaPlaneConfig> = {}) =>
  Effect.gen(function* () {
    const ca = yield* Tls.devCa()
    const tls = yield* ca.issue(["127.0.0.1"])
    const media = yield* Effect.orDie(MediaPlane.start({ bindHost: "127.0.0.1", port: 0, tlsPort: 0, tls, ...options }))
    return { media, ca: ca.cert }
  })

export interface Peer {
  readonly socket: MediaSocket
  readonly received: Array<Buffer>
  readonly stun: Array<Stun.StunMessage>
  /** Sends `count` RTP packets of `size` bytes. */
  readonly send: (count?: number, size?: number) => void
  readonly ssrc: number
}

/** Opens `transport` to the plane (no binding yet). */
export const open = (p: { media: MediaPlane.MediaPlane; ca: string }, transport: MediaTransport, dscp = 46) =>
  Effect.promise(() =>
    transport === "udp"
      ? openUdp({ host: "127.0.0.1", port: p.media.endpoints.port, dscp })
      : openStream({
          host: "127.0.0.1",
          port: transport === "tls" ? p.media.endpoints.tlsPort : p.media.endpoints.port,
          dscp,
          timeoutMs: 2000,
          ...(transport === "tls" ? { tls: { ca: p.ca } } : {}),
        }),
  )

/** A peer around a socket: records what arrives, sends RTP with its SSRC. */
export const peer = (socket: MediaSocket, ssrc = randomBytes(4).readUInt32BE(0)): Peer => {
  const received: Array<Buffer> = []
  const stun: Array<Stun.StunMessage> = []
  let sequence = 0
  socket.onPacket((packet) => {
    if (packet[0]! >= 128) received.push(Buffer.from(packet))
    else {
      const m = Stun.decode(packet)
      if (m !== undefined) stun.push(m)
    }
  })
  return {
    socket,
    received,
    stun,
    ssrc,
    send: (count = 1, size = HEADER_SIZE + 100) => {
      for (let i = 0; i < count; i++) {
        const packet = Buffer.alloc(size)
        writeHeader(packet, { payloadType: 111, marker: false, sequence: sequence++ & 0xffff, timestamp: sequence * 960, ssrc })
        socket.send(packet)
      }
    },
  }
}

/** Sends a Binding Request with `token`; resolves with the answer (success or error). */
export const bind = (p: Peer, token: string, transaction: Buffer = randomBytes(12)) =>
  Effect.gen(function* () {
    const before = p.stun.length
    p.socket.send(Stun.bindingRequest(transaction, token))
    for (let i = 0; i < 200; i++) {
      const answer = p.stun.slice(before).find((m) => m.transactionId.equals(transaction))
      if (answer !== undefined) return answer
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage("no answer to the binding request")
  })

/** Admits `participant` and binds a new peer for `kind` on `transport`. */
export const joined = (
  p: { media: MediaPlane.MediaPlane; ca: string },
  participant: string,
  kind: MediaKind,
  transport: MediaTransport,
) =>
  Effect.gen(function* () {
    const ssrc = randomBytes(4).readUInt32BE(0)
    const tokens = p.media.sfu.admit(MEETING, participant, { [kind]: ssrc })
    const who = peer(yield* open(p, transport), ssrc)
    const answer = yield* bind(who, tokens[kind][transport])
    if (answer.type !== Stun.Type.BindingSuccess) return yield* Effect.dieMessage(`bind refused: ${JSON.stringify(Stun.errorCode(answer))}`)
    return Object.assign(who, { tokens })
  })

/** Polls (bounded) until `condition` holds. */
export const until = (condition: () => boolean, what: string, tries = 400) =>
  Effect.gen(function* () {
    for (let i = 0; i < tries; i++) {
      if (condition()) return
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

export const senderOf = (packet: Buffer) => ssrcOf(packet)
