/**
 * `meetzone up`: the whole system in one process.
 *
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Effect, Layer, Option, Schema } from "effect"
import * as Actor from "../runtime/Actor.js"
import { ask } from "../runtime/Ask.js"
import * as Protocol from "../runtime/Protocol.js"
import * as ControlPlane from "./control-plane.js"

class Ping extends Schema.TaggedRequest<Ping>()("Ping", {
  payload: { from: Schema.String },
  success: Schema.Struct({ pong: Schema.String, bus: Schema.String }),
  failure: Schema.Never,
}) {}
const HealthProtocol = Protocol.make("health", Ping)

const natsOption = Options.text("nats").pipe(
  Options.withDescription("NATS URL(s), comma-separated; default: start a nats-server, else run in-process"),
  Options.optional,
)
const demoOption = Options.boolean("demo").pipe(Options.withDescription("show it working, then exit"))

export const up = Command.make("up", { nats: natsOption, demo: demoOption }, ({ demo, nats }) =>
  Effect.gen(function* () {
    const plane = yield* ControlPlane.acquire({
      nats: Option.map(nats, (urls) => ({ servers: urls.split(",").map((u) => u.trim()) })),
      name: "meetzone-up",
    })
    const context = yield* Layer.build(plane.layer)
    yield* Effect.gen(function* () {
      yield* Actor.start(HealthProtocol, {
        name: "health",
        listen: [{ subject: "mz.health" }],
        behaviour: Effect.succeed({ Ping: ({ from }) => Effect.succeed({ pong: from, bus: plane.kind }) }),
      })
      yield* Effect.log(`control plane: ${plane.kind} ${plane.urls.join(", ")}`)
      const started = performance.now()
      const reply = yield* ask("mz.health", new Ping({ from: "up" }))
      yield* Effect.log(`health answered ${JSON.stringify(reply)} in ${(performance.now() - started).toFixed(1)} ms`)
      if (!demo) yield* Effect.never
    }).pipe(Effect.provide(context))
  }).pipe(Effect.scoped),
).pipe(Command.withDescription("Run a whole meetzone topology in one process."))
