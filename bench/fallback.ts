/**
 * The extra join time when UDP is blocked, sequential vs race: the media
 * phase of joins from a network namespace with and without UDP dropped to the
 * media ports (nftables, silently). Needs root.
 *
 *   npm run bench:fallback [-- --joins 5]
 */
import { parseArgs } from "node:util"
import { median, run } from "./support.js"
import { Effect, Either, Layer, LogLevel, Option } from "effect"
import * as Lookup from "../src/actors/client/lookup.js"
import * as Config from "../src/topology/config.js"
import * as ControlPlane from "../src/topology/control-plane.js"
import * as Topology from "../src/topology/Topology.js"
import * as NatsServer from "../src/transports/nats/server.js"

const { values: args } = parseArgs({ options: { joins: { type: "string", default: "5" } } })
const JOINS = Number(args.joins)

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

const main = Effect.gen(function* () {
  const rows = yield* fallback
  console.log(`\nmedia phase of a join (3 kinds at once), median of ${JOINS} joins from a network namespace`)
  if (typeof rows === "string") {
    console.log(rows)
    process.exitCode = 1
    return
  }
  console.log(`${"strategy".padEnd(12)}${"UDP open".padStart(12)}${"UDP blocked".padStart(14)}${"extra".padStart(10)}`)
  for (const [strategy, open, blocked] of rows) {
    console.log(`${strategy.padEnd(12)}${`${open.toFixed(0)} ms`.padStart(12)}${`${(blocked).toFixed(0)} ms`.padStart(14)}${`${(blocked - open).toFixed(0)} ms`.padStart(10)}`)
  }
  console.log("(UDP blocked by nftables dropping it silently; each attempt's own timeout is 2 s; race staggers 250 ms)")
  console.log(`\nreproduce: npm run bench:fallback -- --joins ${JOINS}`)
})

run(main, { level: LogLevel.Error })
