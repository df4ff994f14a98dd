/**
 * Media encryption's cost, in the same run as its baselines:
 *
 * 1. Client: per-packet cost of SRTP protect and unprotect (AEAD AES-256-GCM,
 *    RFC 7714, with the client's key ring: replay window, MKI) for audio
 *    (160 B) and video (1,200 B) packets, beside copying the same packet (what
 *    sending it in the clear costs at least), as µs per packet and packets/s
 *    on one core.
 * 2. MMR: packets/s its media plane forwards (fan-out 4, UDP on loopback) when
 *    the flood is SRTP, beside the same flood in the clear, in alternating
 *    rounds: the MMR does no crypto, so the goal is a ratio of 1 within noise.
 * 3. A new epoch's key wrapped for 100 participants: end-to-end (the leader,
 *    X25519 + HKDF + AES-GCM per participant) beside the web tier's (HKDF +
 *    AES-GCM per participant), as ms per epoch and their ratio.
 *
 *   npm run bench:crypto [-- --rounds 3 --seconds 2 --packets 50000]
 */
import { fork } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import { parseArgs } from "node:util"
import { Effect, LogLevel } from "effect"
import * as MediaCrypto from "../src/actors/client/media-crypto.js"
import * as MediaPlane from "../src/actors/mmr/media-plane.js"
import * as E2e from "../src/protocol/e2e.js"
import * as Keys from "../src/protocol/media-keys.js"
import { writeHeader } from "../src/protocol/rtp.js"
import * as Tls from "../src/transports/tls.js"
import { count, median, run } from "./support.js"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "2" },
    packets: { type: "string", default: "50000" },
  },
})
const ROUNDS = Number(args.rounds)
const FLOOD_MS = Number(args.seconds) * 1000
const PACKETS = Number(args.packets)

// --- 1. the client's per-packet cost ---------------------------------------------------------

const rtpPackets = (size: number, n: number) =>
  Array.from({ length: n }, (_, i) => {
    const p = Buffer.alloc(size, i & 0xff)
    writeHeader(p, { payloadType: 111, marker: false, sequence: i & 0xffff, timestamp: i * 960, ssrc: 0x01020304 })
    return p
  })

/** µs per packet of `step` over `packets` (after a warm-up pass). */
const perPacket = (packets: ReadonlyArray<Buffer>, step: (p: Buffer) => unknown) => {
  for (let i = 0; i < Math.min(2000, packets.length); i++) step(packets[i]!)
  const t0 = performance.now()
  for (const p of packets) step(p)
  return ((performance.now() - t0) * 1000) / packets.length
}

const clientCost = (size: number) => {
  const keys: Keys.MediaKeys = { profile: "AEAD_AES_256_GCM", epochs: [{ epoch: 1, key: Keys.newKey().toString("base64") }] }
  const clear = rtpPackets(size, PACKETS)
  const rounds = { copy: [] as Array<number>, protect: [] as Array<number>, unprotect: [] as Array<number> }
  for (let r = 0; r < ROUNDS; r++) {
    const sender = MediaCrypto.make("1000000000", "ada", keys)
    const receiver = MediaCrypto.make("1000000000", "bob", keys)
    rounds.copy.push(perPacket(clear, (p) => Buffer.from(p)))
    const sealed: Array<Buffer> = []
    rounds.protect.push(perPacket(clear, (p) => sealed.push(sender.protect("audio", p)!)))
    // The warm-up pass above sealed some packets twice: open each sequence number once, in order.
    const once = sealed.slice(sealed.length - clear.length)
    rounds.unprotect.push(perPacket(once, (p) => receiver.unprotect("audio", p)))
    if (receiver.counters.audio.decrypted < once.length - 2000) throw new Error(`only ${receiver.counters.audio.decrypted} of ${once.length} opened`)
  }
  return { copy: median(rounds.copy), protect: median(rounds.protect), unprotect: median(rounds.unprotect) }
}

// --- 3. one epoch wrapped for everyone: end-to-end beside the web tier ---------------------------

const WRAPPED_FOR = 100
const wrapCost = () => {
  const meeting = "1000000000"
  const key = Keys.newKey()
  const secret = Keys.newKey()
  const leader = E2e.newIdentity()
  const members = Array.from({ length: WRAPPED_FOR }, (_, i) => ({ id: `p${i}`, share: E2e.newIdentity().keyShare }))
  const timed = (wrapOne: (m: { id: string; share: string }) => string) => {
    for (const m of members.slice(0, 10)) wrapOne(m)
    const t0 = performance.now()
    for (const m of members) wrapOne(m)
    return performance.now() - t0
  }
  const rounds = { web: [] as Array<number>, e2e: [] as Array<number> }
  for (let r = 0; r < ROUNDS; r++) {
    rounds.web.push(timed((m) => Keys.wrap(Keys.wrapKeyFor(secret, meeting, m.id), meeting, 2, m.id, key)))
    rounds.e2e.push(timed((m) => Keys.wrap(E2e.wrapKeyBetween(leader, m.share, meeting, leader.keyShare, m.share)!, meeting, 2, m.id, key)))
  }
  return { web: median(rounds.web), e2e: median(rounds.e2e) }
}

// --- 2. the MMR forwarding SRTP beside clear media ---------------------------------------------

const load = fork(new URL("./sfu-load.ts", import.meta.url).pathname, [], { execArgv: ["--import", "tsx"], stdio: "inherit" })
const next = (child: ChildProcess, type: string) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once("message", (m: Record<string, unknown>) => (m["type"] === type ? resolve(m) : reject(new Error(`load process: ${JSON.stringify(m)}`))))
  })

const FANOUT = 4
const forwarding = (srtp: boolean) =>
  Effect.gen(function* () {
    const ca = yield* Tls.devCa()
    const plane = yield* Effect.orDie(
      MediaPlane.start({
        bindHost: "127.0.0.1",
        port: 0,
        tlsPort: 0,
        tls: yield* ca.issue(["127.0.0.1"]),
        silenceMs: 60_000,
        maxPacketsPerSecond: 10_000_000, // one sender floods: no per-participant limit here
        maxBytesPerSecond: 10_000_000_000,
      }),
    )
    const ssrc = randomBytes(4).readUInt32BE(0)
    const sender = plane.sfu.admit("1000000000", "sender", { video: ssrc }).video.udp
    const receivers = Array.from({ length: FANOUT }, (_, i) => plane.sfu.admit("1000000000", `r${i}`, {}).video.udp)
    return yield* Effect.promise(async () => {
      load.send({ type: "setup", host: "127.0.0.1", port: plane.endpoints.port, fanout: FANOUT, tokens: { sender, receivers }, ssrc, srtp })
      await next(load, "ready")
      const before = plane.sfu.counters.forwarded
      const started = performance.now()
      load.send({ type: "flood", ms: FLOOD_MS })
      const done = await next(load, "done")
      const rate = ((plane.sfu.counters.forwarded - before) * 1000) / (performance.now() - started)
      load.send({ type: "teardown" })
      await next(load, "closed")
      return { rate, delivered: ((done["received"] as number) * 1000) / FLOOD_MS }
    })
  }).pipe(Effect.scoped)

const main = Effect.gen(function* () {
  console.log(`node ${process.version}; SRTP AEAD_AES_256_GCM (RFC 7714) with the client's key ring`)
  console.log(`\n1. client: µs per packet (median of ${ROUNDS} rounds of ${count(PACKETS)} packets, one core)\n`)
  console.log(`${"packet".padEnd(14)}${"copy (clear)".padStart(14)}${"protect".padStart(10)}${"unprotect".padStart(11)}${"protect/s".padStart(12)}${"unprotect/s".padStart(13)}`)
  for (const [name, size] of [["audio 160 B", 160], ["video 1,200 B", 1200]] as const) {
    const c = clientCost(size)
    console.log(
      `${name.padEnd(14)}${c.copy.toFixed(2).padStart(14)}${c.protect.toFixed(2).padStart(10)}${c.unprotect.toFixed(2).padStart(11)}${count(1e6 / c.protect).padStart(12)}${count(1e6 / c.unprotect).padStart(13)}`,
    )
  }
  const results = { clear: [] as Array<number>, srtp: [] as Array<number>, clearDelivered: [] as Array<number>, srtpDelivered: [] as Array<number> }
  for (let r = 0; r < ROUNDS; r++) {
    const clear = yield* forwarding(false)
    const srtp = yield* forwarding(true)
    results.clear.push(clear.rate)
    results.clearDelivered.push(clear.delivered)
    results.srtp.push(srtp.rate)
    results.srtpDelivered.push(srtp.delivered)
  }
  load.kill()
  const clear = median(results.clear)
  const srtp = median(results.srtp)
  console.log(`\n2. MMR: packets/s forwarded at fan-out ${FANOUT}, UDP on loopback (median of ${ROUNDS} alternating ${FLOOD_MS / 1000} s rounds)\n`)
  console.log(`${"media".padEnd(22)}${"forwarded/s".padStart(12)}${"delivered/s".padStart(13)}`)
  console.log(`${"clear RTP, 1,200 B".padEnd(22)}${count(clear).padStart(12)}${count(median(results.clearDelivered)).padStart(13)}`)
  console.log(`${"SRTP, 1,220 B".padEnd(22)}${count(srtp).padStart(12)}${count(median(results.srtpDelivered)).padStart(13)}`)
  console.log(`\nMMR forwarding SRTP / clear: ${(srtp / clear).toFixed(2)}`)
  const w = wrapCost()
  console.log(`\n3. one new epoch wrapped for ${WRAPPED_FOR} participants (median of ${ROUNDS} rounds)\n`)
  console.log(`web tier (HKDF + AES-GCM each)            ${w.web.toFixed(2).padStart(7)} ms`)
  console.log(`end-to-end leader (X25519 + HKDF + AES-GCM) ${w.e2e.toFixed(2).padStart(5)} ms`)
  console.log(`end-to-end / web tier: ${(w.e2e / w.web).toFixed(2)}`)
  console.log(`reproduce: npm run bench:crypto -- --rounds ${ROUNDS} --seconds ${FLOOD_MS / 1000} --packets ${PACKETS}`)
})

run(main, { level: LogLevel.Error, onFailure: () => load.kill() })
