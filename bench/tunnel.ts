/**
 * The HTTP tunnel, measured:
 *
 * 1. Join time when every zone controller is silent, at the default 5.5 s
 *    deadline: the client's NATS connection reaches a server where a
 *    subscriber takes every controller request and never answers, so every
 *    probe times out; then every tunnel is pinged, the first to answer
 *    carries MMR selection and media. Goal: joined, media bound, within
 *    5.5 s + 300 ms.
 * 2. Media round trip, A → MMR → B → MMR → A (B echoes each audio packet),
 *    both clients through tunnels vs both on direct UDP, in the same run
 *    against the same MMR.
 *
 *   npm run bench:tunnel [-- --joins 3 --packets 500]
 */
import { parseArgs } from "node:util"
import { ms, quantile, run } from "./support.js"
import { Effect, Either, Layer, LogLevel, Option } from "effect"
import * as Client from "../src/actors/client/Client.js"
import * as Lookup from "../src/actors/client/lookup.js"
import * as Selection from "../src/actors/client/zone-selection.js"
import * as Config from "../src/topology/config.js"
import * as ControlPlane from "../src/topology/control-plane.js"
import * as Topology from "../src/topology/Topology.js"
import { writeHeader, HEADER_SIZE, isRtp } from "../src/protocol/rtp.js"
import * as Connector from "../src/transports/connector.js"
import { connectScoped } from "../src/transports/nats/connection.js"
import * as NatsServer from "../src/transports/nats/server.js"

const { values: args } = parseArgs({
  options: { joins: { type: "string", default: "3" }, packets: { type: "string", default: "500" } },
})
const JOINS = Number(args.joins)
const PACKETS = Number(args.packets)
const PREFIX = "mz"

const f = (value: number) => ms(value, 11)

const program = Effect.gen(function* () {
  const server = yield* NatsServer.start()
  // Where the silent clients' NATS goes: a server whose only subscriber swallows controller requests.
  const silentServer = yield* NatsServer.start()
  const swallower = yield* connectScoped({ servers: silentServer.url, name: "silent-controllers" })
  swallower.subscribe(`${PREFIX}.zone.>`, { callback: () => {} })
  yield* Effect.promise(() => swallower.flush())

  const config = Either.getOrThrow(
    Config.decode({ ...Config.defaultTopology, prefix: PREFIX, tokenSecret: "bench-secret-bench-secret-bench-secret" }),
  )
  const context = yield* Layer.build(
    Layer.merge(ControlPlane.natsLayer({ servers: server.url, name: "bench-topology" }), Topology.services(config)),
  )
  const topology = yield* Topology.start(config, [server.url]).pipe(Effect.provide(context))
  const web = topology.web[0]!.url
  const tls = { ca: topology.caCert! }
  const http = yield* Lookup.dispatcher(tls, Option.none())
  const meeting = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id

  const silent = Layer.succeed(Connector.BusConnector, {
    connect: (_target, options) => Connector.BusConnector.pipe(
      Effect.flatMap((c) => c.connect({ nats: [silentServer.url], relay: undefined }, options)),
      Effect.provide(Connector.nats),
    ),
  })
  const audioOnly = { kinds: ["audio"] as const, synthetic: false }

  // --- 1. join time with every controller silent -------------------------------
  const joins: Array<{ total: number; phases: Record<string, number> }> = []
  for (let i = 0; i < JOINS; i++) {
    const report = yield* Effect.scoped(
      Effect.map(Client.join({ web, meeting, tls, proxy: "none", media: audioOnly }), (s) => s.report),
    ).pipe(Effect.provide(silent))
    if (report.path !== "tunnel") return yield* Effect.dieMessage(`expected the tunnel path, got ${report.path}`)
    joins.push({ total: report.totalMs, phases: Object.fromEntries(report.phases.map((p) => [p.name, p.ms])) })
  }

  // --- 2. media round trip, direct UDP vs tunnel -------------------------------
  const roundTrips = (connector: Layer.Layer<Connector.BusConnector>, extra: Partial<Client.JoinOptions>) =>
    Effect.scoped(
      Effect.gen(function* () {
        const a = yield* Client.join({ web, meeting, tls, proxy: "none", name: "A", media: { ...audioOnly, transports: ["udp"] }, ...extra })
        const b = yield* Client.join({ web, meeting, tls, proxy: "none", name: "B", media: { ...audioOnly, transports: ["udp"] }, ...extra })
        const ssrcOf = (s: Client.JoinSession) =>
          (s.joined.roster.find((p) => p.id === s.joined.participant)?.ssrcs?.audio ?? 0) >>> 0
        const aSsrc = ssrcOf(a)
        const bSsrc = ssrcOf(b)
        // B echoes what A sends, under its own SSRC.
        b.media!.onReceive("audio", (packet) => {
          if (!isRtp(packet) || packet.readUInt32BE(8) !== aSsrc) return
          const echo = Buffer.from(packet)
          echo.writeUInt32BE(bSsrc, 8)
          b.media!.send("audio", echo)
        })
        const sentAt = new Map<number, number>()
        const rtts: Array<number> = []
        a.media!.onReceive("audio", (packet) => {
          if (!isRtp(packet) || packet.readUInt32BE(8) !== bSsrc) return
          const seq = packet.readUInt16BE(2)
          const t = sentAt.get(seq)
          if (t !== undefined) rtts.push(performance.now() - t)
          sentAt.delete(seq)
        })
        yield* Effect.sleep("300 millis") // both bound, roster settled
        for (let i = 0; i < PACKETS; i++) {
          const packet = Buffer.alloc(HEADER_SIZE + 148)
          writeHeader(packet, { payloadType: 111, marker: false, sequence: i & 0xffff, timestamp: i * 960, ssrc: aSsrc })
          sentAt.set(i & 0xffff, performance.now())
          a.media!.send("audio", packet)
          yield* Effect.sleep("20 millis") // 50 packets/s, like Opus
        }
        yield* Effect.sleep("300 millis")
        const transports: Array<string> = []
        for (const s of [a, b]) transports.push((yield* s.finalReport).media?.[0]?.transport ?? "none")
        return { rtts, lost: PACKETS - rtts.length, transports }
      }),
    ).pipe(Effect.provide(connector))
  const direct = yield* roundTrips(Connector.nats, {})
  const tunnel = yield* roundTrips(silent, { zoneSelection: { deadlineMs: 300 } })

  const deadline = Selection.defaults.deadlineMs
  console.log(`\nHTTP tunnel — node ${process.version}; 2 zones × 2 controllers × 2 MMRs, 2 tunnels; loopback\n`)
  console.log(`join with every controller silent (deadline ${deadline} ms), ${JOINS} joins, audio bound through the tunnel:`)
  for (const [i, j] of joins.entries()) {
    const p = j.phases
    console.log(
      `  #${i + 1}  total ${f(j.total)}   lookup ${f(p["lookup"] ?? 0)}  zone-selection ${f(p["zone-selection"] ?? 0)}  tunnel ${f(p["tunnel"] ?? 0)}  mmr-selection ${f(p["mmr-selection"] ?? 0)}  media ${f(p["media"] ?? 0)}`,
    )
  }
  const worst = Math.max(...joins.map((j) => j.total))
  console.log(`  worst ${f(worst)}; goal ≤ ${deadline + 300} ms: ${worst <= deadline + 300 ? "met" : "missed"}; beyond the deadline: ${f(worst - deadline)}`)
  console.log(`\nmedia round trip A → MMR → B → MMR → A, ${PACKETS} audio packets of 160 B at 50/s:`)
  for (const [name, r] of [["direct UDP", direct], ["tunnel", tunnel]] as const) {
    console.log(`  ${name.padEnd(11)} (${r.transports.join("/")})  p50 ${f(quantile(r.rtts, 0.5))}  p99 ${f(quantile(r.rtts, 0.99))}  lost ${r.lost}`)
  }
  console.log(`  tunnel / direct: p50 ${(quantile(tunnel.rtts, 0.5) / quantile(direct.rtts, 0.5)).toFixed(2)}, p99 ${(quantile(tunnel.rtts, 0.99) / quantile(direct.rtts, 0.99)).toFixed(2)}`)
})

run(program, { level: LogLevel.Error })
