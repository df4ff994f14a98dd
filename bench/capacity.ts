/**
 * How many 1 Mbit/s video consumers one MMR core serves at < 1 % loss: one
 * sender's VP8-sized RTP (1,212 B, 103 packets/s = 1 Mbit/s) to N receivers
 * on loopback, from the C load generator (bench/native/load.c) that counts
 * what each receiver was delivered. N doubles from 64 until the loss reaches
 * 1 %, then is narrowed down by bisection (to within 5 %). The MMR's media
 * plane runs on this process's one thread: its consumers per core is that N.
 *
 *   npm run bench:capacity [-- --seconds 3 --max 8192]
 */
import { randomBytes } from "node:crypto"
import { parseArgs } from "node:util"
import { Effect, LogLevel } from "effect"
import * as MediaPlane from "../src/actors/mmr/media-plane.js"
import * as Stun from "../src/protocol/stun.js"
import * as Tls from "../src/transports/tls.js"
import type { LoadResult } from "./native/programs.js"
import * as Native from "./native/programs.js"
import { count, run } from "./support.js"

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    max: { type: "string", default: "8192" },
  },
})
const SECONDS = Number(args.seconds)
const MAX = Number(args.max)
const VIDEO_PPS = Math.round(1_000_000 / (8 * 1212))
const LOSS_GOAL = 0.01
const programs = Native.build()

interface Trial {
  readonly consumers: number
  readonly result: LoadResult
  /** The MMR process's CPU over the trial, as a share of one core. */
  readonly cpu: number
}

const trial = (consumers: number) =>
  Effect.gen(function* () {
    const ca = yield* Tls.devCa()
    const plane = yield* Effect.orDie(
      MediaPlane.start({ bindHost: "127.0.0.1", port: 0, tlsPort: 0, tls: yield* ca.issue(["127.0.0.1"]), silenceMs: 600_000, maxPacketsPerSecond: 1e9, maxBytesPerSecond: 1e12 }),
    )
    const ssrcs = { audio: randomBytes(4).readUInt32BE(0), video: randomBytes(4).readUInt32BE(0) }
    let cpuAt = process.cpuUsage()
    let wallAt = performance.now()
    const result = yield* Effect.promise(() =>
      Native.runLoad(programs.load, { fanout: consumers, audioPps: 0, videoPps: VIDEO_PPS, seconds: SECONDS, ssrcs }, async (ports) => {
        const binds = new Map<number, Uint8Array>()
        binds.set(1, Stun.bindingRequest(randomBytes(12), plane.sfu.admit("1000000000", "sender", { video: ssrcs.video }).video.udp))
        ports.receivers.forEach((_, i) => binds.set(3 + 2 * i, Stun.bindingRequest(randomBytes(12), plane.sfu.admit("1000000000", `r${i}`, {}).video.udp)))
        // The CPU counted from here: the bindings (N STUN requests, a few ms), then the flood.
        setTimeout(() => {
          cpuAt = process.cpuUsage()
          wallAt = performance.now()
        }, 0)
        return { port: plane.endpoints.port, binds }
      }),
    )
    const used = process.cpuUsage(cpuAt)
    return { consumers, result, cpu: (used.user + used.system) / 1000 / (performance.now() - wallAt) } satisfies Trial
  }).pipe(Effect.scoped)

const main = Effect.gen(function* () {
  const trials: Array<Trial> = []
  const ok = (t: Trial) => t.result.loss < LOSS_GOAL
  let good: Trial | undefined
  let bad: Trial | undefined
  for (let n = 64; n <= MAX; n *= 2) {
    const t = yield* trial(n)
    trials.push(t)
    if (!ok(t)) {
      bad = t
      break
    }
    good = t
  }
  while (good !== undefined && bad !== undefined && bad.consumers - good.consumers > good.consumers * 0.05) {
    const t = yield* trial(Math.round((good.consumers + bad.consumers) / 2))
    trials.push(t)
    if (ok(t)) good = t
    else bad = t
  }
  console.log(`\none MMR core, one 1 Mbit/s video sender (${VIDEO_PPS} packets/s of 1,212 B) to N consumers, loopback, ${SECONDS} s per trial; node ${process.version}\n`)
  console.log(`${"consumers".padEnd(11)}${"packets/s out".padStart(15)}${"Mbit/s out".padStart(12)}${"loss".padStart(9)}${"MMR CPU".padStart(10)}`)
  for (const t of [...trials].sort((a, b) => a.consumers - b.consumers)) {
    const delivered = t.result.deliveredPerSecond
    console.log(
      `${String(t.consumers).padEnd(11)}${count(delivered).padStart(15)}${((delivered * 1212 * 8) / 1e6).toFixed(0).padStart(12)}${`${(t.result.loss * 100).toFixed(2)} %`.padStart(9)}${`${Math.round(t.cpu * 100)} %`.padStart(10)}`,
    )
  }
  const best = good?.consumers ?? 0
  console.log(`\nconsumers per core at < 1 % loss: ${best}${bad === undefined ? ` (or more: no loss up to --max ${MAX})` : ""}`)
  if (good !== undefined) console.log(`packets/s out per core at that load: ${count(good.result.deliveredPerSecond)}`)
  console.log(`reproduce: npm run bench:capacity -- --seconds ${SECONDS} --max ${MAX}`)
})

run(main, { level: LogLevel.Error })
