/**
 * `--record DIR`: what a headless client receives, written to files that
 * standard tools read — each audio sender's Opus as `<name>-<ssrc>.ogg`
 * (ogg-opus.ts), each video sender's VP8 as `<name>-<ssrc>.webm`
 * (webm-vp8.ts, from the first key frame; a frame with a gap is dropped and
 * so is what follows until the next key frame), as it arrives (no jitter
 * buffer: late packets keep their place in arrival order). At most 64
 * streams per kind get a file: a peer that cycles through SSRCs (new
 * connections, each a new stream) cannot fill the disk with files; what
 * streams past that carry is dropped and counted.
 *
 * @since 0.3.0
 */
import { existsSync, renameSync } from "node:fs"
import { join } from "node:path"
import type { Scope } from "effect"
import { Effect, Stream } from "effect"
import { payloadType } from "../../protocol/media.js"
import { payloadTypeOf, ssrc as ssrcOf } from "../../protocol/rtp.js"
import * as Vp8 from "../../protocol/vp8.js"
import * as OggOpus from "./ogg-opus.js"
import * as WebmVp8 from "./webm-vp8.js"
import type { MediaSession } from "./media-session.js"

/** An RTP packet's payload: after the CSRCs and any header extension, before any padding (RFC 3550 §5.1). */
export const payloadOf = (p: Uint8Array): Uint8Array | undefined => {
  if (p.length < 12) return undefined
  let at = 12 + 4 * (p[0]! & 0x0f)
  if (p[0]! & 0x10) {
    if (p.length < at + 4) return undefined
    at += 4 + 4 * ((p[at + 2]! << 8) | p[at + 3]!)
  }
  const end = p[0]! & 0x20 ? p.length - p[p.length - 1]! : p.length
  return at <= end ? p.subarray(at, end) : undefined
}

/** @category models */
export interface Recording {
  /** The files written so far, by SSRC. */
  readonly files: () => ReadonlyMap<number, string>
  /** Packets of streams past the per-kind limit, dropped. */
  readonly dropped: () => number
}

/** Streams per kind that get a file. */
export const MAX_STREAMS_PER_KIND = 64

/** One sender's stream into one file. */
interface TrackWriter {
  readonly write: (packet: Uint8Array, payload: Uint8Array) => void
  readonly close: () => void
}

const tracks = {
  audio: { extension: "ogg", open: (path: string): TrackWriter => {
    const ogg = OggOpus.open(path)
    return { write: (_packet, payload) => ogg.write(payload), close: ogg.close }
  } },
  video: { extension: "webm", open: (path: string): TrackWriter => {
    const frames = new Vp8.Assembler(payloadType.video)
    const webm = WebmVp8.open(path)
    return {
      write: (packet, payload) => {
        const frame = frames.push(packet, payload)
        if (frame !== undefined) webm.write(frame)
      },
      close: webm.close,
    }
  } },
} as const

/**
 * Records the session's received audio and video into `dir` for the life of the scope.
 *
 * @category recording
 */
export const record = (
  media: MediaSession,
  dir: string,
  /** The sender's name, when known (`JoinSession.senderOf`). */
  senderOf: (ssrc: number) => string | undefined,
  kinds: ReadonlyArray<"audio" | "video"> = ["audio", "video"],
): Effect.Effect<Recording, never, Scope.Scope> =>
  Effect.gen(function* () {
    const writers = new Map<number, { path: string; kind: "audio" | "video"; writer: TrackWriter }>()
    const streams = { audio: 0, video: 0 }
    let dropped = 0
    const nameOf = (ssrc: number) => senderOf(ssrc) ?? "unknown"
    const pathOf = (ssrc: number, kind: "audio" | "video") =>
      join(dir, `${nameOf(ssrc).replace(/[^\w.-]+/g, "_")}-${ssrc.toString(16).padStart(8, "0")}.${tracks[kind].extension}`)
    // Media can arrive before the roster names its sender: a file named "unknown" then is renamed once it is known.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() =>
        writers.forEach((w, ssrc) => {
          w.writer.close()
          const named = pathOf(ssrc, w.kind)
          if (named !== w.path && existsSync(w.path)) {
            renameSync(w.path, named)
            w.path = named
          }
        }),
      ),
    )
    for (const kind of kinds) {
      yield* media.receive(kind).pipe(
        Stream.runForEach((packet) =>
          Effect.sync(() => {
            if (payloadTypeOf(packet) !== payloadType[kind]) return
            const payload = payloadOf(packet)
            if (payload === undefined) return
            const ssrc = ssrcOf(packet)
            let w = writers.get(ssrc)
            if (w === undefined) {
              if (streams[kind] >= MAX_STREAMS_PER_KIND) {
                dropped++
                return
              }
              streams[kind]++
              const path = pathOf(ssrc, kind)
              w = { path, kind, writer: tracks[kind].open(path) }
              writers.set(ssrc, w)
            }
            if (w.kind === kind) w.writer.write(packet, payload)
          }),
        ),
        Effect.forkScoped,
      )
    }
    return {
      files: () => new Map([...writers].filter(([, w]) => existsSync(w.path)).map(([s, w]) => [s, w.path])),
      dropped: () => dropped,
    }
  })
