/**
 * `--record DIR`: what a headless client receives, written to files that
 * standard tools read — each audio sender's Opus as `<name>-<ssrc>.ogg`
 * (ogg-opus.ts), as it arrives (no jitter buffer: late packets keep their
 * place in arrival order). Video is not recorded yet.
 *
 * @since 0.3.0
 */
import { renameSync } from "node:fs"
import { join } from "node:path"
import type { Scope } from "effect"
import { Effect, Stream } from "effect"
import { payloadType } from "../../protocol/media.js"
import { payloadTypeOf, ssrc as ssrcOf } from "../../protocol/rtp.js"
import * as OggOpus from "./ogg-opus.js"
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
}

/**
 * Records the session's received audio into `dir` for the life of the scope.
 *
 * @category recording
 */
export const recordAudio = (
  media: MediaSession,
  dir: string,
  /** The sender's name, when known (`JoinSession.senderOf`). */
  senderOf: (ssrc: number) => string | undefined,
): Effect.Effect<Recording, never, Scope.Scope> =>
  Effect.gen(function* () {
    const writers = new Map<number, { path: string; writer: OggOpus.OggOpusWriter }>()
    const nameOf = (ssrc: number) => senderOf(ssrc) ?? "unknown"
    const pathOf = (ssrc: number) => join(dir, `${nameOf(ssrc).replace(/[^\w.-]+/g, "_")}-${ssrc.toString(16).padStart(8, "0")}.ogg`)
    // Media can arrive before the roster names its sender: a file named "unknown" then is renamed once it is known.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() =>
        writers.forEach((w, ssrc) => {
          w.writer.close()
          const named = pathOf(ssrc)
          if (named !== w.path) {
            renameSync(w.path, named)
            w.path = named
          }
        }),
      ),
    )
    yield* media.receive("audio").pipe(
      Stream.runForEach((packet) =>
        Effect.sync(() => {
          if (payloadTypeOf(packet) !== payloadType.audio) return
          const payload = payloadOf(packet)
          if (payload === undefined) return
          const ssrc = ssrcOf(packet)
          let w = writers.get(ssrc)
          if (w === undefined) {
            const path = pathOf(ssrc)
            w = { path, writer: OggOpus.open(path) }
            writers.set(ssrc, w)
          }
          w.writer.write(payload)
        }),
      ),
      Effect.forkScoped,
    )
    return { files: () => new Map([...writers].map(([s, w]) => [s, w.path])) }
  })
