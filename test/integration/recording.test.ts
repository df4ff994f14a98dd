/**
 * `client join --record DIR` against a real deployment: a second headless
 * client sends an Opus tone (`--audio tone`) and a VP8 test pattern
 * (`--video pattern`, through ffmpeg); the recordings are an Ogg Opus and a
 * WebM VP8 file that ffprobe reads with the right codec, picture size and
 * about the meeting's length, and that ffmpeg decodes without an error.
 */
import { execFileSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Lookup from "../../src/actors/client/lookup.js"
import { meetzone } from "../support/cli.js"
import * as TestTopology from "../support/topology.js"

describe("recording", () => {
  it.scopedLive(
    "--record writes the tone and the test pattern another client sends as Ogg Opus and WebM VP8: ffprobe reads opus (mono 48 kHz) and vp8 (320×240), each about as long as both were in the meeting",
    () =>
      Effect.gen(function* () {
        const { web, tls } = yield* TestTopology.startSecured(TestTopology.twoZones({ prefix: "record" }))
        const meeting = (yield* Lookup.createMeeting({ web, tls, topic: "recording" })).id
        const dir = yield* Effect.promise(() => mkdtemp(joinPath(tmpdir(), "meetzone-record-")))
        const ca = joinPath(dir, "ca.pem")
        yield* Effect.promise(() => writeFile(ca, tls.ca))
        const out = joinPath(dir, "out")
        const common = ["client", "join", meeting, "--web", web, "--ca", ca, "--media", "audio,video"]
        const [tone, recorder] = yield* Effect.all(
          [
            meetzone([...common, "--name", "Tone", "--audio", "tone", "--video", "pattern", "--duration", "10"]),
            // The recorder a little later, so that the tone is there for the whole of its 6 s.
            Effect.zipRight(Effect.sleep("2 seconds"), meetzone([...common, "--name", "Rec", "--record", out, "--duration", "6"])),
          ],
          { concurrency: "unbounded" },
        )
        expect(tone.code, tone.stderr).toBe(0)
        expect(recorder.code, recorder.stderr).toBe(0)
        const files = readdirSync(out)
        expect(files.filter((f) => f.startsWith("Tone-") && f.endsWith(".ogg")), files.join(", ")).toHaveLength(1)
        expect(files.filter((f) => f.startsWith("Tone-") && f.endsWith(".webm")), files.join(", ")).toHaveLength(1)
        // Nothing of the recorder's own, and nothing unnamed.
        expect(files.filter((f) => !f.startsWith("Tone-")), files.join(", ")).toEqual([])
        const file = joinPath(out, files.find((f) => f.startsWith("Tone-") && f.endsWith(".ogg"))!)
        const probe = JSON.parse(
          execFileSync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,channels,sample_rate:format=format_name,duration", "-of", "json", file], { encoding: "utf8" }),
        ) as { streams: Array<{ codec_name: string; channels: number; sample_rate: string }>; format: { format_name: string; duration: string } }
        expect(probe.streams).toEqual([{ codec_name: "opus", channels: 1, sample_rate: "48000" }])
        expect(probe.format.format_name).toBe("ogg")
        // The tone for (most of) the recorder's 6 s in the meeting.
        expect(Number(probe.format.duration)).toBeGreaterThan(3)
        expect(Number(probe.format.duration)).toBeLessThan(7.5)
        // Every packet decodes: ffmpeg says nothing at -v error.
        expect(execFileSync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })).toBe("")

        const webm = joinPath(out, files.find((f) => f.startsWith("Tone-") && f.endsWith(".webm"))!)
        const video = JSON.parse(
          execFileSync("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames:format=format_name,duration", "-of", "json", webm], { encoding: "utf8" }),
        ) as { streams: Array<{ codec_name: string; width: number; height: number; nb_read_frames: string }>; format: { format_name: string; duration: string } }
        expect(video.streams.map(({ codec_name, width, height }) => ({ codec_name, width, height }))).toEqual([{ codec_name: "vp8", width: 320, height: 240 }])
        expect(video.format.format_name).toContain("webm")
        // From the first key frame it saw (one a second) to the end of its 6 s, at 15 frames/s.
        expect(Number(video.format.duration)).toBeGreaterThan(2.5)
        expect(Number(video.format.duration)).toBeLessThan(7.5)
        expect(Number(video.streams[0]!.nb_read_frames)).toBeGreaterThan(30)
        expect(execFileSync("ffmpeg", ["-v", "error", "-i", webm, "-f", "null", "-"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })).toBe("")
      }),
    120_000,
  )
})
