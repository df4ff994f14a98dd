/**
 * The recorder against a peer that cycles through SSRCs: at most
 * MAX_STREAMS_PER_KIND files per kind, the rest dropped and counted — the
 * disk does not fill with one file per new stream.
 */
import { mkdtemp, readdir } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { MediaSession } from "../../src/actors/client/media-session.js"
import { MAX_STREAMS_PER_KIND, record } from "../../src/actors/client/recording.js"
import { payloadType } from "../../src/protocol/media.js"
import { HEADER_SIZE, writeHeader } from "../../src/protocol/rtp.js"

const STREAMS = MAX_STREAMS_PER_KIND + 6

/** Audio from STREAMS senders, 3 packets each, interleaved. */
const spray = Array.from({ length: STREAMS * 3 }, (_, i) => {
  const packet = Buffer.alloc(HEADER_SIZE + 20)
  writeHeader(packet, { payloadType: payloadType.audio, marker: false, sequence: Math.floor(i / STREAMS), timestamp: i * 960, ssrc: 0x1000 + (i % STREAMS) })
  return packet as Uint8Array
})

describe("recording", () => {
  it.scopedLive(`writes at most ${MAX_STREAMS_PER_KIND} streams per kind and counts what the others carried`, () =>
    Effect.gen(function* () {
      const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "meetzone-rec-")))
      const media = { receive: (kind: string) => (kind === "audio" ? Stream.fromIterable(spray) : Stream.empty) } as unknown as MediaSession
      const recording = yield* record(media, dir, () => undefined, ["audio"])
      for (let i = 0; i < 100 && recording.dropped() < 6 * 3; i++) yield* Effect.sleep("10 millis")
      expect(recording.dropped()).toBe(6 * 3)
      expect(recording.files().size).toBe(MAX_STREAMS_PER_KIND)
      expect((yield* Effect.promise(() => readdir(dir))).length).toBe(MAX_STREAMS_PER_KIND)
    }),
  )
})
