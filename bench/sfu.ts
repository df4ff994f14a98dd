/**
 * Forwarding, measured by what arrives: a C load generator
 * (bench/native/load.c) sends one participant's mixed audio (172 B) and
 * video (1,212 B) RTP over UDP on loopback, and counts per receiver what was
 * delivered to each of its sockets; the relay under test forwards to every
 * receiver of the kind. Three relays in the same run, rounds alternating:
 *
 *   C relay       recvmmsg/sendmmsg, nothing else (bench/native/relay.c, compiled now): the ceiling
 *   Node relay    a bare dgram socket forwarding by payload type
 *   MMR           meetzone's media plane: token-bound connections, counters, loss/jitter, RTCP, rate limits
 *
 * The offered load is the same for all three: `--demand` packets/s out in
 * all, split over the fan-out (the sender sends demand / fan-out, a quarter
 * of it audio) — by default more than any of them forwards here, so each
 * runs at its own limit. Delivered packets/s and loss per relay and fan-out (1, 4,
 * 16); the headline is the MMR's delivered rate over the C relay's at
 * fan-out 4. (SRTP changes nothing here but 20 B per packet: the MMR
 * forwards it untouched; bench:crypto compares the two.)
 *
 *   npm run bench:sfu [-- --rounds 3 --seconds 3 --demand 800000 --fanouts 1,4,16]
 */
import { randomBytes } from "node:crypto"
import { createSocket } from "node:dgram"
import { parseArgs } from "node:util"
import { Effect, LogLevel } from "effect"
import * as MediaPlane from "../src/actors/mmr/media-plane.js"
import * as Stun from "../src/protocol/stun.js"
import * as Tls from "../src/transports/tls.js"
import type { LoadPorts, LoadResult } from "./native/programs.js"
import * as Native from "./native/programs.js"
import { count, median, run } from "./support.js"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "3" },
    demand: { type: "string", default: "800000" },
    fanouts: { type: "string", default: "1,4,16" },
  },
})
const ROUNDS = Number(args.rounds)
const SECONDS = Number(args.seconds)
const DEMAND = Number(args.demand)
const FANOUTS = args.fanouts.split(",").map(Number)
const programs = Native.build()

const plan = (fanout: number) => {
  const input = DEMAND / fanout
  return { fanout, audioPps: Math.round(input / 4), videoPps: Math.round((input * 3) / 4), seconds: SECONDS, ssrcs: { audio: randomBytes(4).readUInt32BE(0), video: randomBytes(4).readUInt32BE(0) } }
}

const cRelay = (fanout: number) =>
  Effect.promise(async () => {
    let relay: Awaited<ReturnType<typeof Native.startRelay>> | undefined
    const result = await Native.runLoad(programs.load, plan(fanout), async (ports) => {
      relay = await Native.startRelay(programs.relay, ports.receivers.map((r) => r.audio), ports.receivers.map((r) => r.video))
      return { port: relay.port }
    })
    await relay?.stop()
    return result
  })

const nodeRelay = (fanout: number) =>
  Effect.promise(async () => {
    const socket = createSocket("udp4")
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()))
    try {
      socket.setRecvBufferSize(8 << 20)
      socket.setSendBufferSize(8 << 20)
    } catch {
      // capped by rmem_max/wmem_max
    }
    let receivers: LoadPorts["receivers"] = []
    socket.on("message", (m) => {
      const audio = (m[1]! & 0x7f) === 111
      for (const r of receivers) socket.send(m, audio ? r.audio : r.video, "127.0.0.1")
    })
    const result = await Native.runLoad(programs.load, plan(fanout), async (ports) => {
      receivers = ports.receivers
      return { port: socket.address().port }
    })
    socket.close()
    return result
  })

const mmr = (fanout: number) =>
  Effect.gen(function* () {
    const ca = yield* Tls.devCa()
    // One sender floods: no per-participant limit here, and nobody goes silent.
    const plane = yield* Effect.orDie(
      MediaPlane.start({ bindHost: "127.0.0.1", port: 0, tlsPort: 0, tls: yield* ca.issue(["127.0.0.1"]), silenceMs: 600_000, maxPacketsPerSecond: 1e9, maxBytesPerSecond: 1e12 }),
    )
    const p = plan(fanout)
    return yield* Effect.promise(() =>
      Native.runLoad(programs.load, p, async (ports) => {
        const bind = (token: string) => Stun.bindingRequest(randomBytes(12), token)
        const binds = new Map<number, Uint8Array>()
        const sender = plane.sfu.admit("1000000000", "sender", p.ssrcs)
        binds.set(0, bind(sender.audio.udp))
        binds.set(1, bind(sender.video.udp))
        ports.receivers.forEach((_, i) => {
          const tokens = plane.sfu.admit("1000000000", `r${i}`, {})
          binds.set(2 + 2 * i, bind(tokens.audio.udp))
          binds.set(3 + 2 * i, bind(tokens.video.udp))
        })
        return { port: plane.endpoints.port, binds }
      }),
    )
  }).pipe(Effect.scoped)

const relays = { "C relay": cRelay, "Node relay": nodeRelay, MMR: mmr } as const
type RelayName = keyof typeof relays

const main = Effect.gen(function* () {
  const results = new Map<string, Array<LoadResult>>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const fanout of FANOUTS) {
      for (const [name, relay] of Object.entries(relays)) {
        const key = `${name}/${fanout}`
        results.set(key, [...(results.get(key) ?? []), yield* relay(fanout)])
      }
    }
  }
  const cell = (name: RelayName, fanout: number) => {
    const rs = results.get(`${name}/${fanout}`)!
    return { delivered: median(rs.map((r) => r.deliveredPerSecond)), loss: median(rs.map((r) => r.loss)), offered: median(rs.map((r) => (r.sent.audio + r.sent.video) / SECONDS)) }
  }
  console.log(`\nforwarding on loopback, delivered packets/s (median of ${ROUNDS} alternating ${SECONDS} s rounds)`)
  console.log(`one sender of mixed RTP (audio 172 B : video 1,212 B = 1 : 3), ${count(DEMAND)} packets/s asked of each relay in all; node ${process.version}\n`)
  console.log(`${"fan-out".padEnd(9)}${"sent/s".padStart(10)}${"C relay".padStart(12)}${"loss".padStart(8)}${"Node relay".padStart(12)}${"loss".padStart(8)}${"MMR".padStart(12)}${"loss".padStart(8)}${"MMR / C".padStart(9)}${"MMR / Node".padStart(12)}`)
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`
  for (const fanout of FANOUTS) {
    const c = cell("C relay", fanout)
    const n = cell("Node relay", fanout)
    const m = cell("MMR", fanout)
    console.log(
      `${String(fanout).padEnd(9)}${count(c.offered).padStart(10)}${count(c.delivered).padStart(12)}${pct(c.loss).padStart(8)}${count(n.delivered).padStart(12)}${pct(n.loss).padStart(8)}${count(m.delivered).padStart(12)}${pct(m.loss).padStart(8)}${(m.delivered / c.delivered).toFixed(2).padStart(9)}${(m.delivered / n.delivered).toFixed(2).padStart(12)}`,
    )
  }
  if (FANOUTS.includes(4)) console.log(`\nMMR / C relay at fan-out 4: ${(cell("MMR", 4).delivered / cell("C relay", 4).delivered).toFixed(2)}`)
  console.log(`reproduce: npm run bench:sfu -- --rounds ${ROUNDS} --seconds ${SECONDS} --demand ${DEMAND} --fanouts ${FANOUTS.join(",")}`)
})

run(main, { level: LogLevel.Error })
