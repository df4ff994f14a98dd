/**
 * Typed `ask` round trips per second over NATS, sequential and with 16
 * outstanding, beside raw nats.js `request` to a raw responder measured in the
 * same run against the same nats-server. Rounds alternate (raw, typed, raw,
 * typed …) so drift in machine load hits both alike; the median round counts.
 *
 * The typed side is the library as it ships (`dist/`, compiled by tsc, as
 * users import it and the CLI runs it; the npm script builds it first);
 * `--from src` runs the TypeScript through tsx instead, whose keepNames
 * wraps every closure the hot path makes in a defineProperty call.
 *
 *   npm run bench:control [-- --rounds 5 --sequential 4000 --concurrent 20000 --from dist|src]
 */
import type { NatsConnection } from "@nats-io/transport-node"
import { connect } from "@nats-io/transport-node"
import { Effect, Layer, LogLevel, Schema } from "effect"
import { parseArgs } from "node:util"
import { count, median, ratio, run } from "./support.js"
import type * as Permissions from "../src/protocol/permissions.js"

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    sequential: { type: "string", default: "4000" },
    concurrent: { type: "string", default: "20000" },
    from: { type: "string", default: "dist" },
  },
})
if (args.from !== "dist" && args.from !== "src") throw new Error(`--from takes dist or src, not ${args.from}`)
const library: typeof import("../src/index.js") = await import(args.from === "dist" ? "../dist/index.js" : "../src/index.js")
const { Actor, NatsBus, NatsServer, NatsAuth: Auth, Tls } = library
const { ask } = library.Ask
const Protocol = library.Protocol.ActorProtocol
const ROUNDS = Number(args.rounds)
const SEQUENTIAL = Number(args.sequential)
const CONCURRENT = Number(args.concurrent)
const OUTSTANDING = 16

class Echo extends Schema.TaggedRequest<Echo>()("Echo", {
  payload: { text: Schema.String, n: Schema.Number },
  success: Schema.Struct({ text: Schema.String, n: Schema.Number }),
  failure: Schema.Never,
}) {}
const EchoProtocol = Protocol.make("bench-echo", Echo)

/** Runs `total` calls of `once`, `outstanding` at a time; returns calls per second. */
const throughput = async (total: number, outstanding: number, once: () => Promise<unknown>) => {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: outstanding }, async () => {
      while (next++ < total) await once()
    }),
  )
  return total / ((performance.now() - started) / 1000)
}


const program = Effect.gen(function* () {
  const server = yield* NatsServer.start({ jetstream: false })
  const open = (name: string, noAsyncTraces: boolean) =>
    Effect.acquireRelease(
      Effect.promise(() => connect({ servers: server.url, name, noAsyncTraces })),
      (nc) => Effect.promise(() => nc.close()),
    )

  // Raw: a nats.js responder echoing bytes, asked by a second connection.
  const rawResponder = yield* open("raw-responder", true)
  rawResponder.subscribe("bench.raw", { callback: (_, m) => void m.respond(m.data) })
  yield* Effect.promise(() => rawResponder.flush())
  const payload = new TextEncoder().encode(JSON.stringify({ _tag: "Echo", text: "hello", n: 1 }))
  const rawAskers: Record<string, NatsConnection> = {
    "raw nats.js (default options)": yield* open("raw-asker-traces", false),
    "raw nats.js (noAsyncTraces)": yield* open("raw-asker", true),
  }

  // Typed: an actor on its own connection, asked through the typed kernel from another.
  const actorBus = yield* Layer.build(NatsBus.layer({ servers: server.url, name: "actor" }))
  yield* Actor.start(EchoProtocol, {
    name: "bench-echo",
    listen: [{ subject: "bench.typed" }],
    behaviour: Effect.succeed({ Echo: ({ text, n }) => Effect.succeed({ text, n }) }),
  }).pipe(Effect.provide(actorBus))
  const askerBus = yield* Layer.build(NatsBus.layer({ servers: server.url, name: "asker" }))

  // The same typed path on a server with meetzone's auth and TLS on: each side its own identity with allow lists.
  const secrets = Auth.generate()
  const ca = yield* Tls.devCa("bench NATS CA")
  const secured = yield* NatsServer.start({ jetstream: false, auth: Auth.serverConfig(yield* Auth.trust(secrets)), tls: yield* ca.issue(["127.0.0.1", "localhost"]) })
  const securedBus = (name: string, permissions: Permissions.Permissions, inboxPrefix: string) =>
    Effect.flatMap(Auth.signer(secrets, "actor"), (by) => Auth.userCreds(by, { name, permissions })).pipe(
      Effect.flatMap((creds) => Layer.build(NatsBus.layer({ servers: secured.url, name, creds, inboxPrefix, tls: { ca: ca.cert } }))),
    )
  const securedActorBus = yield* securedBus("actor", { publish: [], subscribe: ["bench.typed"], respond: true }, "_I.actor")
  yield* Actor.start(EchoProtocol, {
    name: "bench-echo-secured",
    listen: [{ subject: "bench.typed" }],
    behaviour: Effect.succeed({ Echo: ({ text, n }) => Effect.succeed({ text, n }) }),
  }).pipe(Effect.provide(securedActorBus))
  const securedAskerBus = yield* securedBus("asker", { publish: ["bench.typed"], subscribe: ["_I.asker.>"], respond: false }, "_I.asker")

  // The typed loop runs inside Effect, as an Effect program would ask.
  const typedOn = (bus: typeof askerBus) => (total: number, outstanding: number) =>
    Effect.gen(function* () {
      let next = 0
      const started = performance.now()
      yield* Effect.all(
        Array.from({ length: outstanding }, () =>
          Effect.gen(function* () {
            while (next < total) yield* ask("bench.typed", new Echo({ text: "hello", n: next++ }))
          }),
        ),
        { concurrency: "unbounded", discard: true },
      )
      return total / ((performance.now() - started) / 1000)
    }).pipe(Effect.provide(bus), Effect.orDie)

  const cases: Array<[string, (total: number, outstanding: number) => Effect.Effect<number>]> = [
    ...Object.entries(rawAskers).map(
      ([name, nc]) =>
        [
          name,
          (total: number, outstanding: number) =>
            Effect.promise(() => throughput(total, outstanding, () => nc.request("bench.raw", payload, { timeout: 5000 }))),
        ] as [string, (total: number, outstanding: number) => Effect.Effect<number>],
    ),
    ["typed ask", typedOn(askerBus)],
    ["typed ask, auth + TLS on", typedOn(securedAskerBus)],
  ]

  const results: Record<string, { sequential: Array<number>; concurrent: Array<number> }> = {}
  for (const [name] of cases) results[name] = { sequential: [], concurrent: [] }
  // Warm-up: JIT both paths before measuring.
  for (const [, run] of cases) yield* run(2000, OUTSTANDING)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of cases) {
      results[name]!.sequential.push(yield* run(SEQUENTIAL, 1))
      results[name]!.concurrent.push(yield* run(CONCURRENT, OUTSTANDING))
    }
  }

  const baseline = "raw nats.js (noAsyncTraces)"
  const rows = Object.entries(results).map(([name, r]) => ({
    name,
    sequential: median(r.sequential),
    concurrent: median(r.concurrent),
  }))
  const base = rows.find((r) => r.name === baseline)!
  const typedRow = rows.find((r) => r.name === "typed ask")!
  console.log(`\ncontrol-plane round trips/s over NATS (loopback; median of ${ROUNDS} alternating rounds)`)
  console.log(`node ${process.version}, nats-server at ${server.url}, the typed side from ${args.from === "dist" ? "dist/ (compiled)" : "src/ (through tsx)"}\n`)
  console.log(
    `${"".padEnd(32)}${"sequential".padStart(12)}${"ratio".padStart(8)}${`${OUTSTANDING} outstanding`.padStart(18)}${"ratio".padStart(8)}`,
  )
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(32)}${count(r.sequential).padStart(12)}${(r.sequential / base.sequential).toFixed(2).padStart(8)}${count(r.concurrent).padStart(18)}${(r.concurrent / base.concurrent).toFixed(2).padStart(8)}`,
    )
  }
  console.log(`\nratios are against "${baseline}", measured in the same run.`)
  console.log(`typed / raw: sequential ${ratio(typedRow.sequential, base.sequential)}, ${OUTSTANDING} outstanding ${ratio(typedRow.concurrent, base.concurrent)}`)
  console.log(`reproduce: npm run bench:control -- --rounds ${ROUNDS} --sequential ${SEQUENTIAL} --concurrent ${CONCURRENT} --from ${args.from}`)
  const typed = typedRow
  const securedRow = rows.find((r) => r.name === "typed ask, auth + TLS on")!
  console.log(
    `the cost of auth + TLS on the typed path: sequential ${ratio(securedRow.sequential, typed.sequential)}, ${OUTSTANDING} outstanding ${ratio(securedRow.concurrent, typed.concurrent)} (on / off)`,
  )
})

run(program, { level: LogLevel.Warning })
