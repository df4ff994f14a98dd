/**
 * 1. Forwarding: packets/s the MMR's media plane forwards at fan-out 1 and 4
 *    (1,200 B RTP over UDP on loopback), beside a bare Node dgram relay doing
 *    the same forwarding, in the same run, as a ratio. The relay under test
 *    runs in this process; the flood and the receivers run in another
 *    (bench/sfu-load.ts) so they do not share its core. Both relays count what
 *    they forwarded the same way: sends issued.
 *
 * 2. Fallback: the extra join time when UDP is blocked, sequential vs race:
 *    the media phase of joins from a network namespace with and without UDP
 *    dropped to the media ports (needs root; skipped with a note otherwise).
 *
 *   npm run bench:sfu [-- --rounds 3 --seconds 2 --joins 5]
 */
import type { ChildProcess } from "node:child_process"
import { fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createSocket } from "node:dgram"
import { parseArgs } from "node:util"
import { count, median, run } from "./support.js"
import { Effect, Either, Layer, LogLevel, Option } from "effect"
import * as Lookup from "../src/actors/client/lookup.js"
import * as MediaPlane from "../src/actors/mmr/media-plane.js"
import * as Config from "../src/topology/config.js"
import * as ControlPlane from "../src/topology/control-plane.js"
import * as Topology from "../src/topology/Topology.js"
import * as NatsServer from "../src/transports/nats/server.js"
import * as Tls from "../src/transports/tls.js"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "2" },
    joins: { type: "string", default: "5" },
  },
})
const ROUNDS = Number(args.rounds)
const FLOOD_MS = Number(args.seconds) * 1000
const JOINS = Number(args.joins)


// --- the load process ------------------------------------------------------------------

const load = fork(new URL("./sfu-load.ts", import.meta.url).pathname, [], { execArgv: ["--import", "tsx"], stdio: "inherit" })
const next = (child: ChildProcess, type: string) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once("message", (m: Record<string, unknown>) =>
      m["type"] === type ? resolve(m) : reject(new Error(`load process: ${JSON.stringify(m)}`)),
    )
  })

/** Floods the relay at host:port; returns forwarded packets/s as the relay counted them. */
const measure = async (port: number, fanout: number, forwarded: () => number, tokens?: { sender: string; receivers: Array<string> }, ssrc = 1) => {
  load.send({ type: "setup", host: "127.0.0.1", port, fanout, tokens, ssrc })
  const ready = await next(load, "ready")
  const before = forwarded()
  const started = performance.now()
  load.send({ type: "flood", ms: FLOOD_MS })
  await next(load, "done")
  const rate = ((forwarded() - before) * 1000) / (performance.now() - started)
  load.send({ type: "teardown" })
  await next(load, "closed")
  return { rate, receivers: ready["receivers"] as Array<{ address: string; port: number }> }
}

/** The baseline: a bare dgram relay sending each datagram to every receiver. */
const bareRelay = async (fanout: number) => {
  const socket = createSocket("udp4")
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()))
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024)
    socket.setSendBufferSize(4 * 1024 * 1024)
  } catch {
    // capped
  }
  let destinations: Array<{ address: string; port: number }> = []
  let forwarded = 0
  socket.on("message", (m) => {
    for (let i = 0; i < destinations.length; i++) {
      socket.send(m, destinations[i]!.port, destinations[i]!.address)
      forwarded++
    }
  })
  // Receivers are known once the load process has opened them: learn them from "ready".
  load.once("message", (m: Record<string, unknown>) => {
    if (m["type"] === "ready") destinations = m["receivers"] as typeof destinations
  })
  const { rate } = await measure(socket.address().port, fanout, () => forwarded)
  socket.close()
  return rate
}

const mmr = (fanout: number) =>
  Effect.gen(function* () {
    const ca = yield* Tls.devCa()
    const plane = yield* Effect.orDie(
      MediaPlane.start({ bindHost: "127.0.0.1", port: 0, tlsPort: 0, tls: yield* ca.issue(["127.0.0.1"]), silenceMs: 60_000, maxPacketsPerSecond: 10_000_000, maxBytesPerSecond: 10_000_000_000 }), // one sender floods: no per-participant limit here
    )
    const ssrc = randomBytes(4).readUInt32BE(0)
    const sender = plane.sfu.admit("1000000000", "sender", { video: ssrc }).video.udp
    const receivers = Array.from({ length: fanout }, (_, i) => plane.sfu.admit("1000000000", `r${i}`, {}).video.udp)
    const { rate } = yield* Effect.promise(() =>
      measure(plane.endpoints.port, fanout, () => plane.sfu.counters.forwarded, { sender, receivers }, ssrc),
    )
    return rate
  }).pipe(Effect.scoped)

// --- fallback timing from a namespace -------------------------------------------------------

const fallback = Effect.gen(function* () {
  if (process.getuid?.() !== 0) return "skipped: needs root (network namespaces)"
  const Netns = yield* Effect.promise(() => import("../scripts/netns.js"))
  const ns = yield* Netns.create
  const nats = yield* Effect.orDie(NatsServer.start({ host: ns.hostIp }))
  const config = Either.getOrThrow(
    Config.decode({
      ...Config.defaultTopology,
      tokenSecret: "bench-secret-bench-secret-bench-secret",
      web: [{ id: "web", host: ns.hostIp, port: 0 }],
      zones: [{ id: "z", location: { lat: 0, lon: 0 }, controllers: [{ id: "c1" }], mmrs: [{ id: "m1", bindHost: ns.hostIp }] }],
    }),
  )
  const context = yield* Layer.build(Layer.merge(ControlPlane.natsLayer({ servers: nats.url }), Topology.services(config)))
  const topology = yield* Effect.orDie(Topology.start(config, [nats.url]).pipe(Effect.provide(context)))
  const web = topology.web[0]!.url
  const tls = { ca: topology.caCert! }
  const http = yield* Lookup.dispatcher(tls, Option.none())
  const meeting = (yield* Effect.orDie(Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 }))).id
  const { writeFile, mkdtemp } = yield* Effect.promise(() => import("node:fs/promises"))
  const dir = yield* Effect.promise(() => mkdtemp("/tmp/meetzone-bench-"))
  yield* Effect.promise(() => writeFile(`${dir}/ca.pem`, tls.ca))
  const port = topology.mmrs[0]!.handle.media!.endpoints.port

  const mediaPhase = (strategy: string) =>
    Effect.gen(function* () {
      const out = yield* ns.run(
        process.execPath,
        ["--import", "tsx", new URL("./netns-joins.ts", import.meta.url).pathname, web, `${dir}/ca.pem`, meeting, strategy, String(JOINS)],
      )
      if (out.code !== 0) return yield* Effect.dieMessage(out.stderr)
      return JSON.parse(out.stdout.trim().split("\n").at(-1)!) as Array<number>
    })
  const rows: Array<[string, number, number]> = []
  for (const strategy of ["sequential", "race"]) {
    yield* ns.firewall("flush ruleset")
    const open = median(yield* mediaPhase(strategy))
    yield* ns.firewall(Netns.blockUdpPorts(ns.hostIp, [port]))
    const blocked = median(yield* mediaPhase(strategy))
    rows.push([strategy, open, blocked])
  }
  return rows
}).pipe(Effect.scoped)

// --- run --------------------------------------------------------------------------------

const main = Effect.gen(function* () {
  const results: Record<string, Array<number>> = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const fanout of [1, 4]) {
      ;(results[`bare ${fanout}`] ??= []).push(yield* Effect.promise(() => bareRelay(fanout)))
      ;(results[`mmr ${fanout}`] ??= []).push(yield* mmr(fanout))
    }
  }
  load.kill()
  console.log(`\nforwarded packets/s, 1,200 B RTP over UDP on loopback (median of ${ROUNDS} alternating ${FLOOD_MS / 1000} s rounds)`)
  console.log(`node ${process.version}\n`)
  console.log(`${"fan-out".padEnd(10)}${"bare dgram relay".padStart(18)}${"MMR".padStart(12)}${"ratio".padStart(8)}`)
  for (const fanout of [1, 4]) {
    const bare = median(results[`bare ${fanout}`]!)
    const ours = median(results[`mmr ${fanout}`]!)
    console.log(`${String(fanout).padEnd(10)}${count(bare).padStart(18)}${count(ours).padStart(12)}${(ours / bare).toFixed(2).padStart(8)}`)
  }

  const rows = yield* fallback
  console.log(`\nmedia phase of a join (3 kinds at once), median of ${JOINS} joins from a network namespace`)
  if (typeof rows === "string") {
    console.log(rows)
    return
  }
  console.log(`${"strategy".padEnd(12)}${"UDP open".padStart(12)}${"UDP blocked".padStart(14)}${"extra".padStart(10)}`)
  for (const [strategy, open, blocked] of rows) {
    console.log(`${strategy.padEnd(12)}${`${open.toFixed(0)} ms`.padStart(12)}${`${blocked.toFixed(0)} ms`.padStart(14)}${`${(blocked - open).toFixed(0)} ms`.padStart(10)}`)
  }
  console.log("(UDP blocked by nftables dropping it silently; each attempt's own timeout is 2 s; race staggers 250 ms)")
})

run(main, { level: LogLevel.Error, onFailure: () => load.kill() })

