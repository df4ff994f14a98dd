/**
 * Synthetic media for the headless client: RTP streams shaped like each
 * kind, so the media plane carries what it would carry in a meeting.
 *
 *   audio    50 packets/s of ~160 B (20 ms Opus frames)
 *   video    30 frames/s, ~1 Mbit/s, each frame split into packets of at most 1,200 B
 *   content   5 frames/s of ~8 kB (screen sharing: few, larger frames)
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { Effect, Schedule } from "effect"
import type { MediaKind } from "../../protocol/media.js"
import { clockRate, payloadType } from "../../protocol/media.js"
import { HEADER_SIZE, writeHeader } from "../../protocol/rtp.js"

/** @category models */
export interface Profile {
  readonly frameIntervalMs: number
  /** Payload bytes per frame. */
  readonly frameBytes: number
  /** Largest packet, header included. */
  readonly maxPacket: number
}

/** @category defaults */
export const profiles: Readonly<Record<MediaKind, Profile>> = {
  audio: { frameIntervalMs: 20, frameBytes: 160 - HEADER_SIZE, maxPacket: 1200 },
  video: { frameIntervalMs: 1000 / 30, frameBytes: Math.round(1_000_000 / 8 / 30), maxPacket: 1200 },
  content: { frameIntervalMs: 200, frameBytes: 8000, maxPacket: 1200 },
}

const noise = randomBytes(64 * 1024)

/**
 * Sends one kind's stream through `send` until interrupted; counts packets
 * into `sent`.
 *
 * @category sending
 */
export const run = (
  kind: MediaKind,
  ssrc: number,
  send: (packet: Buffer) => boolean,
  sent: { count: number },
  profile: Profile = profiles[kind],
): Effect.Effect<never> => {
  let sequence = Math.floor(Math.random() * 0xffff)
  let timestamp = Math.floor(Math.random() * 0xffffffff)
  const perPacket = profile.maxPacket - HEADER_SIZE
  const ticksPerFrame = Math.round((clockRate[kind] * profile.frameIntervalMs) / 1000)
  // The marker bit: video's on a frame's last packet (RFC 7741); audio's on a talkspurt's first packet only
  // (RFC 3551 §4.1) — synthetic audio is one talkspurt, and tools compute no jitter when every packet starts one.
  let talkspurtStarted = false
  const markerOf = (last: boolean) => {
    if (kind !== "audio") return last
    if (talkspurtStarted) return false
    talkspurtStarted = true
    return true
  }
  const frame = Effect.sync(() => {
    let left = profile.frameBytes
    let offset = 0
    while (left > 0) {
      const size = Math.min(left, perPacket)
      const packet = Buffer.allocUnsafe(HEADER_SIZE + size)
      writeHeader(packet, { payloadType: payloadType[kind], marker: markerOf(left === size), sequence, timestamp, ssrc })
      noise.copy(packet, HEADER_SIZE, offset % (noise.length - size), (offset % (noise.length - size)) + size)
      if (send(packet)) sent.count++
      sequence = (sequence + 1) & 0xffff
      left -= size
      offset += size
    }
    timestamp = (timestamp + ticksPerFrame) >>> 0
  })
  return Effect.repeat(frame, Schedule.fixed(profile.frameIntervalMs)).pipe(Effect.zipRight(Effect.never))
}
