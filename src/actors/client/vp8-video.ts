/**
 * Real video for the headless client: VP8 (RFC 6386) from Debian's ffmpeg
 * (libvpx, realtime settings) — a moving test pattern, or any media file it
 * can read, looped — sent as RTP (RFC 7741: payload type 96, 90 kHz clock,
 * the marker on each frame's last packet). A browser in the meeting decodes
 * and shows it, where the synthetic video is bytes it must refuse.
 *
 * ffmpeg runs as a child of this process for as long as the stream is read
 * (killed, by its PID, when reading stops) and writes IVF to a pipe; a key
 * frame every second lets a late joiner (or one that lost a packet) start again soon. Without ffmpeg the stream
 * ends at once and says why (`ffmpegProblem` tells it before a join).
 *
 * @since 0.4.0
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { Effect, Stream } from "effect"
import { clockRate, payloadType } from "../../protocol/media.js"
import { HEADER_SIZE, writeHeader } from "../../protocol/rtp.js"
import * as Vp8 from "../../protocol/vp8.js"

/** @category models */
export interface VideoOptions {
  /** A media file to send, looped; default a test pattern (ffmpeg's testsrc2). */
  readonly file?: string
  /** Picture width. Default 320. */
  readonly width?: number
  /** Picture height. Default 240. */
  readonly height?: number
  /** Frames per second. Default 15. */
  readonly frameRate?: number
  /** The encoder's target bitrate. Default 300 kbit/s. */
  readonly bitrateKbps?: number
  /** Default `ffmpeg` on PATH. */
  readonly ffmpeg?: string
}

/** Why this machine cannot send `options`' video, in one sentence; undefined when it can. @category checks */
export const ffmpegProblem = (options: VideoOptions = {}): string | undefined => {
  const ffmpeg = options.ffmpeg ?? "ffmpeg"
  const probe = spawnSync(ffmpeg, ["-hide_banner", "-encoders"], { encoding: "utf8", timeout: 10_000 })
  if (probe.error !== undefined) return `real video needs ffmpeg (${ffmpeg}: ${probe.error.message}); install it: apt-get install ffmpeg`
  if (!/libvpx\b/.test(probe.stdout)) return `${ffmpeg} has no VP8 encoder (libvpx)`
  if (options.file !== undefined && !existsSync(options.file)) return `${options.file}: no such file`
  return undefined
}

/** ffmpeg's arguments: real-time pace, VP8 for low delay, IVF on stdout. */
export const ffmpegArgs = (options: VideoOptions = {}): ReadonlyArray<string> => {
  const width = options.width ?? 320
  const height = options.height ?? 240
  const rate = options.frameRate ?? 15
  const input =
    options.file === undefined
      ? ["-re", "-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=${rate}`]
      : ["-re", "-stream_loop", "-1", "-i", options.file, "-an", "-vf", `scale=${width}:${height}`, "-r", String(rate)]
  return [
    "-hide_banner", "-loglevel", "error", "-nostdin",
    ...input,
    "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", `${options.bitrateKbps ?? 300}k`,
    "-g", String(rate), "-auto-alt-ref", "0", "-lag-in-frames", "0", "-error-resilient", "1",
    "-f", "ivf", "pipe:1",
  ]
}

/**
 * IVF, read as it streams: a 32-byte file header ("DKIF", its time base),
 * then per frame a 12-byte header (size, 64-bit timestamp) and the frame.
 *
 * @category parsing
 */
export class IvfReader {
  private buffer: Buffer = Buffer.alloc(0)
  private rate = 0
  private scale = 0

  /** Whole frames in what has come so far, with their time in 90 kHz ticks. */
  push(chunk: Uint8Array): Array<{ readonly frame: Uint8Array; readonly ticks: number }> {
    this.buffer = Buffer.concat([this.buffer, chunk])
    const frames: Array<{ frame: Uint8Array; ticks: number }> = []
    if (this.rate === 0) {
      if (this.buffer.length < 32) return frames
      if (this.buffer.toString("latin1", 0, 4) !== "DKIF") throw new Error("not IVF")
      const headerSize = this.buffer.readUInt16LE(6)
      this.rate = this.buffer.readUInt32LE(16) || 1
      this.scale = this.buffer.readUInt32LE(20) || 1
      this.buffer = this.buffer.subarray(headerSize)
    }
    while (this.buffer.length >= 12) {
      const size = this.buffer.readUInt32LE(0)
      if (this.buffer.length < 12 + size) break
      const pts = Number(this.buffer.readBigUInt64LE(4))
      frames.push({ frame: this.buffer.subarray(12, 12 + size), ticks: Math.round((pts * this.scale * clockRate.video) / this.rate) })
      this.buffer = this.buffer.subarray(12 + size)
    }
    return frames
  }
}

/**
 * A source for `media.sources.video`: ffmpeg's VP8 frames as RTP packets,
 * for as long as the stream is read.
 *
 * @category sources
 */
export const vp8 =
  (options: VideoOptions = {}) =>
  (ssrc: number): Stream.Stream<Uint8Array> =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        const child = yield* Effect.acquireRelease(
          Effect.sync(() => spawn(options.ffmpeg ?? "ffmpeg", ffmpegArgs(options), { stdio: ["ignore", "pipe", "pipe"] })),
          (c) => Effect.sync(() => void (c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))),
        )
        let stderr = ""
        child.stderr.on("data", (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-500)))
        const failed = new Promise<Error>((resolve) => child.once("error", resolve))
        const reader = new IvfReader()
        let sequence = Math.floor(Math.random() * 0xffff)
        const base = Math.floor(Math.random() * 0xffffffff)
        const packets = (chunk: Uint8Array): Array<Uint8Array> =>
          reader.push(chunk).flatMap(({ frame, ticks }) =>
            Vp8.packetize(frame).map(({ payload, last }) => {
              const packet = Buffer.allocUnsafe(HEADER_SIZE + payload.length)
              writeHeader(packet, { payloadType: payloadType.video, marker: last, sequence, timestamp: (base + ticks) >>> 0, ssrc })
              packet.set(payload, HEADER_SIZE)
              sequence = (sequence + 1) & 0xffff
              return new Uint8Array(packet.buffer, packet.byteOffset, packet.length)
            }),
          )
        return Stream.fromAsyncIterable(child.stdout as AsyncIterable<Buffer>, (e) => e as Error).pipe(
          Stream.mapConcat(packets),
          Stream.onDone(() =>
            Effect.flatMap(
              Effect.promise(() => Promise.race([failed, new Promise<undefined>((r) => setTimeout(r, 100))])),
              (error) => Effect.logWarning(`video: ffmpeg stopped${error !== undefined ? `: ${error.message}` : stderr !== "" ? `: ${stderr.trim()}` : ""}`),
            ),
          ),
          Stream.catchAll((e) => Stream.fromEffect(Effect.logWarning(`video: ${e.message}`)).pipe(Stream.drain)),
        )
      }),
    )
