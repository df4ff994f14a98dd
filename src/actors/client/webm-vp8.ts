/**
 * VP8 in a WebM file: what a recording of one video stream is written as,
 * so that standard tools (ffprobe, players, browsers) read it. The muxing is
 * webm-muxer's (pure TypeScript, no native build; Matroska's EBML, cues and
 * seek head are more than we would want to hand-write); this module feeds it
 * frames from the RTP clock and writes what it makes straight to the file,
 * at the offsets it names, so the file is seekable once closed.
 *
 * @since 0.4.0
 */
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs"
import { Muxer, StreamTarget } from "webm-muxer"
import { clockRate } from "../../protocol/media.js"
import type { Frame } from "../../protocol/vp8.js"
import { keyFrameSize } from "../../protocol/vp8.js"

/** @category models */
export interface WebmVp8Writer {
  /** Frames in arrival order; ones before the first key frame, or not after the last, are skipped. */
  readonly write: (frame: Frame) => void
  readonly close: () => void
  /** Frames written. */
  readonly frames: () => number
}

/** A file at `path`, begun with the first key frame (it gives the picture size); removed on close if none came. */
export const open = (path: string): WebmVp8Writer => {
  const fd = openSync(path, "w")
  let muxer: Muxer<StreamTarget> | undefined
  let first = 0
  let lastUs = -1
  let count = 0
  let closed = false
  const target = new StreamTarget({ onData: (data, position) => void writeSync(fd, data, 0, data.length, position) })
  return {
    write: (frame) => {
      if (closed) return
      if (muxer === undefined) {
        const size = keyFrameSize(frame.data)
        if (size === undefined) return
        muxer = new Muxer({ target, video: { codec: "V_VP8", width: size.width, height: size.height }, firstTimestampBehavior: "offset" })
        first = frame.timestamp
      }
      // RTP time since the first frame, wrap-safe: 32-bit difference.
      const us = Math.round((((frame.timestamp - first) >>> 0) * 1_000_000) / clockRate.video)
      if (us <= lastUs) return
      lastUs = us
      muxer.addVideoChunkRaw(frame.data, frame.key ? "key" : "delta", us)
      count++
    },
    close: () => {
      if (closed) return
      closed = true
      muxer?.finalize()
      closeSync(fd)
      // Nothing decodable came: no file rather than an empty one.
      if (muxer === undefined) unlinkSync(path)
    },
    frames: () => count,
  }
}
