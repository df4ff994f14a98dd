/**
 * A join storm against one zone's control plane over NATS: N simulated
 * clients (default 1,000), arriving evenly over T seconds, each asking the
 * zone's 2 controllers (a queue group) to place its own meeting — a new
 * placement, written create-if-absent in the JetStream KV bucket — then
 * joining the MMR named (4 of them). Clients share a pool of NATS
 * connections (as a tunnel or relay would carry many). Reports placements/s
 * (completed over the storm's wall time), join p50/p99 (Assign + MMR Join)
 * and failures, with every failure's reason counted.
 *
 * The library as it ships (`dist/`, built by the npm script first);
 * `--from src` runs the TypeScript through tsx instead.
 *
 *   npm run bench:storm [-- --clients 1000 --seconds 0.2 --connections 16 --from dist|src]
 */
import { randomBytes } from "node:crypto"
import { parseArgs } from "node:util"
import { Effect, Either, Layer, LogLevel } from "effect"
import { count, ms, quantile, run } from "./support.js"

const { values: args } = parseArgs({
  options: {
    clients: { type: "string", default: "1000" },
    seconds: { type: "string", default: "0.2" },
    connections: { type: "string", default: "16" },
    from: { type: "string", default: "dist" },
  },
})
if (args.from !== "dist" && args.from !== "src") throw new Error(`--from takes dist or src, not ${args.from}`)
const library: typeof import("../src/index.js") = await import(args.from === "dist" ? "../dist/index.js" : "../src/index.js")
const { Config, ControlPlane, Topology, NatsServer } = library
const { Assign } = library.Protocol.Controller
const { Join } = library.Protocol.Mmr
const { Subjects } = library.Protocol
const { JoinTokens } = library.JoinTokens
const { ask } = library.Ask
const CLIENTS = Number(args.clients)
const SECONDS = Number(args.seconds)
const CONNECTIONS = Number(args.connections)

const program = Effect.gen(function* () {
  const server = yield* NatsServer.start()
  const config = Either.getOrElse(
    Config.decode({
      ...Config.defaultTopology,
      tokenSecret: "storm-secret-storm-secret-storm-secret",
      tunnels: [],
      zones: [
        {
          id: "eu-west",
          name: "Europe West",
          location: { lat: 53.35, lon: -6.26 },
          controllers: [{ id: "c1" }, { id: "c2" }],
          mmrs: [1, 2, 3, 4].map((i) => ({ id: `eu-mmr-${i}`, capacity: CLIENTS })),
        },
      ],
    }),
    (e) => {
      throw new Error(e.message)
    },
  )
  const context = yield* Layer.build(Layer.merge(ControlPlane.natsLayer({ servers: server.url, name: "storm-topology" }), Topology.services(config)))
  yield* Topology.start(config, [server.url]).pipe(Effect.provide(context))
  const subjects = Subjects.make(config.prefix)
  const tokens = yield* Effect.provide(JoinTokens, context)
  const pool = yield* Effect.forEach(Array.from({ length: CONNECTIONS }, (_, i) => i), (i) =>
    Layer.build(ControlPlane.natsLayer({ servers: server.url, name: `storm-clients-${i}` })),
  )

  // Each client its own meeting (so each join is a placement) and its own signed join token, made beforehand.
  const clients = yield* Effect.forEach(Array.from({ length: CLIENTS }, (_, i) => i), (i) =>
    Effect.map(tokens.sign({ meeting: String(1_000_000_000 + i), participant: `p${i}`, name: `client ${i}` }, "5 minutes"), (t) => ({
      i,
      meeting: String(1_000_000_000 + i),
      token: t.token,
      session: randomBytes(18).toString("base64url"),
    })),
  )

  const failures = new Map<string, number>()
  const joinMs: Array<number> = []
  const assignMs: Array<number> = []
  let lastDone = 0
  const started = performance.now()
  yield* Effect.forEach(
    clients,
    (c) =>
      Effect.gen(function* () {
        // Arriving evenly over the storm's seconds.
        const at = (c.i * SECONDS * 1000) / CLIENTS
        const wait = at - (performance.now() - started)
        if (wait > 0) yield* Effect.sleep(wait)
        const t0 = performance.now()
        const placement = yield* ask(subjects.zoneAssign("eu-west"), new Assign({ meeting: c.meeting, token: c.token }), { timeout: "10 seconds" })
        assignMs.push(performance.now() - t0)
        yield* ask(placement.subject, new Join({ token: c.token, session: c.session }), { timeout: "10 seconds" })
        const now = performance.now()
        joinMs.push(now - t0)
        lastDone = Math.max(lastDone, now)
      }).pipe(
        Effect.provide(pool[c.i % CONNECTIONS]!),
        Effect.catchAll((e) => Effect.sync(() => void failures.set(e._tag, (failures.get(e._tag) ?? 0) + 1))),
      ),
    { concurrency: "unbounded", discard: true },
  )
  const wallS = (lastDone - started) / 1000
  console.log(`\njoin storm: ${count(CLIENTS)} clients arriving over ${SECONDS} s, each placing its own meeting in one zone (2 controllers, 4 MMRs) and joining its MMR`)
  console.log(`over ${CONNECTIONS} shared NATS connections; node ${process.version}, nats-server at ${server.url}\n`)
  console.log(`placements/s           ${count(joinMs.length / wallS)}   (${joinMs.length} placed and joined in ${wallS.toFixed(2)} s)`)
  console.log(`join (Assign + Join)   p50 ${ms(quantile(joinMs, 0.5))}   p99 ${ms(quantile(joinMs, 0.99))}`)
  console.log(`  of which Assign      p50 ${ms(quantile(assignMs, 0.5))}   p99 ${ms(quantile(assignMs, 0.99))}`)
  console.log(`failures               ${[...failures.values()].reduce((a, b) => a + b, 0)}${failures.size > 0 ? `  (${[...failures].map(([k, v]) => `${k} ${v}`).join(", ")})` : ""}`)
  console.log(`\nreproduce: npm run bench:storm -- --clients ${CLIENTS} --seconds ${SECONDS} --connections ${CONNECTIONS} --from ${args.from}`)
})

run(program, { level: LogLevel.Error })
