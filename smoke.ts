import { Effect, Layer, Logger, LogLevel } from "effect"
import { Agent, fetch } from "undici"
import * as WebLookup from "./src/actors/web-lookup/WebLookup.js"
import * as Geo from "./src/actors/web-lookup/geo.js"
import * as Subjects from "./src/protocol/subjects.js"
import * as Token from "./src/protocol/token.js"
import { memoryLayer } from "./src/apps/control-plane.js"
import { devCa } from "./src/transports/tls.js"
const program = Effect.gen(function* () {
  const ca = yield* devCa()
  const tls = yield* ca.issue(["127.0.0.1", "localhost"])
  const web = yield* WebLookup.start({ id: "w1", host: "127.0.0.1", port: 0, tls, zones: [{ id: "eu", name: "EU", location: { lat: 50, lon: 8 }, nats: [] }], trustedProxies: ["loopback"], subjects: Subjects.make(), buckets: Subjects.buckets() })
  const dispatcher = new Agent({ connect: { ca: ca.cert } })
  const go = (path: string, init?: any) => Effect.promise(async () => { const r = await fetch(web.url + path, { dispatcher, ...init }); return [r.status, await r.text()] })
  console.log(yield* go("/healthz"))
  const [, created] = yield* go("/api/meetings", { method: "POST", body: JSON.stringify({ topic: "standup", passcode: "1234" }) })
  console.log(created)
  const id = JSON.parse(created).id
  console.log(yield* go(`/api/meetings/${id}`))
  console.log(yield* go(`/api/meetings/${id}/join-info?name=Ann`))
  console.log(yield* go(`/api/meetings/${id}/join-info?name=Ann&passcode=1234`, { headers: { "x-forwarded-for": "203.0.113.9" } }))
  console.log(yield* go(`/api/meetings/${id}/join-info`, { headers: { "x-meeting-passcode": "nope" } }))
  console.log(yield* go(`/api/meetings/12345/join-info`))
  console.log(yield* go(`/api/meetings/99999999999/join-info`))
  console.log(yield* go(`/api/meetings`, { method: "POST", body: "{bad" }))
  console.log(yield* go(`/api/meetings`, { method: "POST", body: JSON.stringify({ topic: 5 }) }))
  console.log(yield* go(`/nope`))
}).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(memoryLayer, Token.layerHmac("x".repeat(32)), Geo.layer({ cidrMap: [] }))), Logger.withMinimumLogLevel(LogLevel.Warning))
Effect.runPromise(program).catch((e) => { console.error("FAILED", e); process.exit(1) })
