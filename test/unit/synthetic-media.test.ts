/**
 * The headless client's synthetic media on a test clock: the RTP marker bit
 * as the payload formats set it — audio on the first packet of a talkspurt
 * only (RFC 3551 §4.1), video and content on the last packet of each frame (RFC 7741).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import * as Synthetic from "../../src/actors/client/synthetic-media.js"
import * as Rtp from "../../src/protocol/rtp.js"

const markers = (kind: "audio" | "content", ms: number) =>
  Effect.gen(function* () {
    const packets: Array<Buffer> = []
    const fiber = yield* Effect.fork(Synthetic.run(kind, 0x1234, (p) => (packets.push(p), true), { count: 0 }))
    yield* TestClock.adjust(ms)
    yield* Fiber.interrupt(fiber)
    return packets.map((p) => ({ marker: (p[1]! & 0x80) !== 0, timestamp: Rtp.timestamp(p) }))
  })

describe("synthetic media", () => {
  it.effect("marks audio's first packet only: one talkspurt", () =>
    Effect.gen(function* () {
      const audio = yield* markers("audio", 1_000)
      expect(audio.length).toBeGreaterThan(40)
      expect(audio.map((p) => p.marker)).toEqual([true, ...Array(audio.length - 1).fill(false)])
    }),
  )

  // Content (screen sharing) frames come every 200 ms, in several packets each, as video's do (video's 33.3 ms
  // frame interval is not a whole number of test-clock milliseconds).
  it.effect("marks the last packet of every frame of content", () =>
    Effect.gen(function* () {
      const video = yield* markers("content", 1_000)
      const frames = new Set(video.map((p) => p.timestamp)).size
      expect(frames).toBeGreaterThan(4)
      expect(video.filter((p) => p.marker)).toHaveLength(frames)
      video.forEach((p, i) => expect(p.marker).toBe(i === video.length - 1 || video[i + 1]!.timestamp !== p.timestamp))
    }),
  )
})
