/**
 * Real audio for the headless client: a tone, encoded as Opus (RFC 6716)
 * in 20 ms frames and sent as RTP (RFC 7587: payload type 111, 48 kHz clock,
 * the marker on the talkspurt's first packet). A browser in the meeting
 * decodes and plays it, where the synthetic audio is noise it must refuse.
 *
 * The encoder is opusscript: libopus compiled to WebAssembly, so there is no
 * native build and no external process; about 0.1–0.6 ms per frame here.
 *
 * @since 0.3.0
 */
import { Effect, Schedule, Stream } from "effect"
import OpusScript from "opusscript"
import { clockRate, payloadType } from "../../protocol/media.js"
import { HEADER_SIZE, writeHeader } from "../../protocol/rtp.js"

/** @category models */
export interface ToneOptions {
  /** Default 440 Hz. */
  readonly frequencyHz?: number
  /** Peak amplitude, 0..1. Default 0.25. */
  readonly level?: number
}

const FRAME_MS = 20
const SAMPLES = (clockRate.audio * FRAME_MS) / 1000

/**
 * A source for `media.sources.audio`: the tone's RTP packets, one every
 * 20 ms, for as long as the stream is read.
 *
 * @category sources
 */
export const tone =
  (options: ToneOptions = {}) =>
  (ssrc: number): Stream.Stream<Uint8Array> =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        const encoder = yield* Effect.acquireRelease(
          Effect.sync(() => new OpusScript(48_000, 1, OpusScript.Application.AUDIO)),
          (e) => Effect.sync(() => e.delete()),
        )
        const frequency = options.frequencyHz ?? 440
        const amplitude = Math.round(32767 * Math.min(1, Math.max(0, options.level ?? 0.25)))
        const pcm = Buffer.alloc(SAMPLES * 2)
        let sample = 0
        let sequence = Math.floor(Math.random() * 0xffff)
        let timestamp = Math.floor(Math.random() * 0xffffffff)
        let first = true
        const frame = Effect.sync(() => {
          for (let i = 0; i < SAMPLES; i++, sample++) pcm.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * frequency * sample) / clockRate.audio)), i * 2)
          const opus = encoder.encode(pcm, SAMPLES)
          const packet = Buffer.allocUnsafe(HEADER_SIZE + opus.length)
          writeHeader(packet, { payloadType: payloadType.audio, marker: first, sequence, timestamp, ssrc })
          opus.copy(packet, HEADER_SIZE)
          first = false
          sequence = (sequence + 1) & 0xffff
          timestamp = (timestamp + SAMPLES) >>> 0
          return new Uint8Array(packet.buffer, packet.byteOffset, packet.length)
        })
        return Stream.repeatEffectWithSchedule(frame, Schedule.fixed(FRAME_MS))
      }),
    )
