/**
 * Control-plane join time (lookup → MMR joined), p50/p99 over many joins,
 * beside the primitive round trips a join is made of, measured in the same
 * run against the same servers: an HTTPS request on a new connection, a NATS
 * connect, one probe round trip, one Assign, one MMR Join.
 *
 *   npm run bench:join [-- --joins 200]
 *
 * Each join is a fresh client: new HTTPS connection, new NATS connection,
 * 2 zones × 2 controllers × 3 probe samples, leaving when done.
 */
import { parseArgs } from "node:util"
import { ms, quantile, ratio, run, timed } from "./support.js"
import * as Subjects from "../src/protocol/subjects.js"
import { Effect, Either, Layer, LogLevel, Option } from "effect"
import * as Client from "../src/actors/client/Client.js"
import * as Lookup from "../src/actors/client/lookup.js"
import * as Selection from "../src/actors/client/zone-selection.js"
import * as Config from "../src/topology/config.js"
import * as ControlPlane from "../src/topology/control-plane.js"
import * as Topology from "../src/topology/Topology.js"
import { Assign, Probe } from "../src/protocol/controller.js"
import { Join, Leave } from "../src/protocol/mmr.js"
import { ask } from "../src/runtime/Ask.js"
import type { ControlBus } from "../src/runtime/ControlBus.js"
import * as Connector from "../src/transports/connector.js"
import { connectScoped } from "../src/transports/nats/connection.js"
import * as NatsServer from "../src/transports/nats/server.js"

const { values: args } = parseArgs({ options: { joins: { type: "string", default: "200" } } })
const JOINS = Number(args.joins)

const f = (value: number) => ms(value, 10)

const program = Effect.gen(function* () {
  const server = yield* NatsServer.start()
  const config = Either.getOrThrow(
    Config.decode({
      ...Config.defaultTopology,
      tokenSecret: "bench-secret-bench-secret-bench-secret",
      // Hundreds of joins from one address on purpose: no per-address limit here.
      web: [{ id: "web-1", port: 0, trustedProxies: ["loopback"], limits: { joinInfo: { perMinute: 1_000_000, burst: 100_000 } } }],
    }),
  )
  const context = yield* Layer.build(
    Layer.merge(ControlPlane.natsLayer({ servers: server.url, name: "bench-topology" }), Topology.services(config)),
  )
  const topology = yield* Topology.start(config, [server.url]).pipe(Effect.provide(context))
  const web = topology.web[0]!.url
  const tls = { ca: topology.caCert! }
  const http = yield* Lookup.dispatcher(tls, Option.none())
  const meeting = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id

  const joinAt = (web: string, tls: { ca: string }, meeting: string) =>
    Effect.scoped(Effect.map(Client.join({ web, meeting, tls, proxy: "none" }), (s) => s.report)).pipe(Effect.provide(Connector.nats))
  const join = joinAt(web, tls, meeting)

  // The same topology on a nats-server with auth and TLS on (as `meetzone up` runs it): each actor and each join its own identity.
  const securedPlane = yield* ControlPlane.acquire({
    nats: Option.none(),
    name: "bench-secured",
    subjects: Subjects.make(config.prefix),
    buckets: Subjects.buckets(config.prefix),
  }).pipe(Effect.orDie)
  const securedContext = yield* Layer.build(Layer.merge(securedPlane.layer, Topology.services(config)))
  const securedTopology = yield* Topology.start(config, securedPlane.urls, undefined, Option.getOrUndefined(securedPlane.secured)).pipe(
    Effect.provide(securedContext),
  )
  const securedTls = { ca: securedTopology.caCert! }
  const securedWeb = securedTopology.web[0]!.url
  const securedHttp = yield* Lookup.dispatcher(securedTls, Option.none())
  const securedMeeting = (yield* Lookup.createMeeting(securedHttp, new URL(securedWeb), { timeoutMs: 5000 })).id
  const securedJoin = joinAt(securedWeb, securedTls, securedMeeting)

  for (let i = 0; i < 20; i++) yield* Effect.zip(join, securedJoin) // warm-up
  const joins: Array<number> = []
  const securedJoins: Array<number> = []
  const securedPhases: Record<string, Array<number>> = { lookup: [], "zone-selection": [], "mmr-selection": [] }
  const phases: Record<string, Array<number>> = { lookup: [], "zone-selection": [], "mmr-selection": [] }
  for (let i = 0; i < JOINS; i++) {
    // The report's total runs from the start of the lookup to the MMR's Join
    // reply; leaving and closing connections afterwards are not part of it.
    const report = yield* join
    joins.push(report.totalMs)
    for (const p of report.phases) phases[p.name]?.push(p.ms)
    // Alternating, so drift in machine load hits both alike.
    const securedReport = yield* securedJoin
    securedJoins.push(securedReport.totalMs)
    for (const p of securedReport.phases) securedPhases[p.name]?.push(p.ms)
  }

  // The primitives, each measured the same number of times.
  const info = yield* Lookup.joinInfo(http, new URL(web), meeting, { timeoutMs: 5000 })
  const zone = info.zones[0]!
  const measure = (effect: Effect.Effect<unknown, unknown, never>) =>
    Effect.gen(function* () {
      for (let i = 0; i < 10; i++) yield* effect
      const xs: Array<number> = []
      for (let i = 0; i < JOINS; i++) xs.push((yield* timed(effect))[0])
      return quantile(xs, 0.5)
    })
  const https = yield* measure(
    Effect.scoped(Effect.flatMap(Lookup.dispatcher(tls, Option.none()), (h) => Lookup.joinInfo(h, new URL(web), meeting, { timeoutMs: 5000 }))).pipe(Effect.orDie),
  )
  const natsConnect = yield* measure(Effect.scoped(connectScoped({ servers: server.url })).pipe(Effect.orDie))
  // One open client connection for the request/reply primitives.
  const busContext = yield* Layer.build(ControlPlane.natsLayer({ servers: server.url, name: "bench-client" }))
  const onOpenBus = <A, E>(e: Effect.Effect<A, E, ControlBus>) => Effect.provide(e, busContext).pipe(Effect.orDie)
  const probe = yield* measure(onOpenBus(ask(zone.controllers[0]!.subject, new Probe({ client: "bench", sample: 0 }))))
  const assign = yield* measure(onOpenBus(ask(zone.assignSubject, new Assign({ meeting, token: info.joinToken }))))
  const placement = yield* onOpenBus(ask(zone.assignSubject, new Assign({ meeting, token: info.joinToken })))
  const session = "bench-session-secret-0001"
  const mmrJoin = yield* measure(onOpenBus(ask(placement.subject, new Join({ token: info.joinToken, session }))))
  yield* onOpenBus(ask(placement.subject, new Leave({ meeting, participant: info.participant.id, token: info.joinToken, session })))

  const samples = info.zones.reduce((n, z) => n + z.controllers.length, 0) * Selection.defaults.samples
  const sum = https + natsConnect + samples * probe + assign + mmrJoin
  // Each controller's samples go one after another, the next when the last is answered.
  const criticalPath = https + natsConnect + Selection.defaults.samples * probe + assign + mmrJoin

  console.log(`\ncontrol-plane join, ${JOINS} joins (fresh client each: new HTTPS and NATS connections)`)
  console.log(`node ${process.version}; 2 zones × 2 controllers × 2 MMRs; nats-server at ${server.url}\n`)
  console.log(`join (lookup → MMR joined)   p50 ${f(quantile(joins, 0.5))}   p99 ${f(quantile(joins, 0.99))}`)
  for (const [name, xs] of Object.entries(phases)) {
    console.log(`  ${name.padEnd(27)} p50 ${f(quantile(xs, 0.5))}   p99 ${f(quantile(xs, 0.99))}`)
  }
  console.log(
    `join, auth + TLS on          p50 ${f(quantile(securedJoins, 0.5))}   p99 ${f(quantile(securedJoins, 0.99))}   (on / off: p50 ${ratio(quantile(securedJoins, 0.5), quantile(joins, 0.5))}, p99 ${ratio(quantile(securedJoins, 0.99), quantile(joins, 0.99))})`,
  )
  for (const [name, xs] of Object.entries(securedPhases)) {
    console.log(`  ${name.padEnd(27)} p50 ${f(quantile(xs, 0.5))}   p99 ${f(quantile(xs, 0.99))}`)
  }
  console.log(`\nprimitives, p50 of ${JOINS} each:`)
  console.log(`  HTTPS join-info, new TLS connection ${f(https)}`)
  console.log(`  NATS connect                        ${f(natsConnect)}`)
  console.log(`  probe round trip                    ${f(probe)}   × ${samples} samples`)
  console.log(`  Assign                              ${f(assign)}`)
  console.log(`  MMR Join                            ${f(mmrJoin)}`)
  console.log(`  sum (every probe counted)           ${f(sum)}`)
  console.log(`  critical path (controllers in parallel, each one's ${Selection.defaults.samples} samples back to back) ${f(criticalPath)}`)
  console.log(`\njoin p50 / sum of primitives: ${(quantile(joins, 0.5) / sum).toFixed(2)};  join p50 / critical path: ${(quantile(joins, 0.5) / criticalPath).toFixed(2)}`)
})

run(program, { level: LogLevel.Error })
