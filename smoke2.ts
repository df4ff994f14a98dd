import { Effect, Layer, Logger, LogLevel, Option } from "effect"
import * as Client from "./src/actors/client/Client.js"
import * as Lookup from "./src/actors/client/lookup.js"
import { memoryLayer } from "./src/apps/control-plane.js"
import * as Connector from "./src/transports/connector.js"
import * as TestTopology from "./test/support/topology.js"
const program = Effect.gen(function* () {
  const ctx = yield* Layer.build(memoryLayer)
  const { web, tls } = yield* TestTopology.start(TestTopology.twoZones(), []).pipe(Effect.provide(ctx))
  const http = yield* Lookup.dispatcher(tls, Option.none())
  const meeting = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
  const connector = Connector.shared.pipe(Layer.provide(Layer.succeedContext(ctx)))
  const media = { kinds: ["audio", "video", "content"] as const }
  const a = yield* Client.join({ web, meeting, name: "Ada", tls, proxy: "none", media }).pipe(Effect.provide(connector))
  const b = yield* Client.join({ web, meeting, name: "Grace", tls, proxy: "none", media: { ...media, strategy: "sequential" } }).pipe(Effect.provide(connector))
  yield* Effect.sleep("2 seconds")
  for (const s of [a, b]) {
    const r = yield* s.finalReport
    console.log(r.phases.map((p) => `${p.name} ${p.ms}ms ${p.outcome} ${p.chosen ?? p.reason ?? ""}`).join("\n"))
    console.log(JSON.stringify(r.media))
  }
}).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))
Effect.runPromise(program).catch((e) => { console.error("FAILED", e); process.exit(1) })
