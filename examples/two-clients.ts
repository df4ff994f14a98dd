/**
 * The smallest whole program: a topology in this process (in-process bus and
 * store, no nats-server needed), one meeting, two clients sending synthetic
 * audio and video to each other for a second.
 *
 *   npx tsx examples/two-clients.ts
 *
 * In your own project, import from "meetzone" instead of "../src/index.js".
 */
import { Effect, Layer, Logger, LogLevel } from "effect"
import { Client, Connector, ControlPlane, Lookup, Topology } from "../src/index.js"

/** Runs the meeting; returns both participants' final reports. */
export const program = Effect.gen(function* () {
  const topology = yield* Topology.Running
  const web = topology.web[0]!.url
  const tls = { ca: topology.caCert! }
  const meeting = yield* Lookup.createMeeting({ web, tls, topic: "two clients" })
  const join = (name: string) => Client.join({ web, meeting: meeting.id, name, tls, proxy: "none", media: { kinds: ["audio", "video"] } })
  const ada = yield* join("Ada")
  const grace = yield* join("Grace")
  yield* Effect.sleep("1 second")
  return [yield* ada.finalReport, yield* grace.finalReport] as const
}).pipe(
  Effect.scoped,
  // Clients in this process reach control over the same in-process bus as the actors.
  Effect.provide(Layer.mergeAll(Topology.layer(Topology.example), Connector.shared).pipe(Layer.provideMerge(ControlPlane.memoryLayer))),
  // Outermost, so the topology's own start-up logs are quiet too.
  Logger.withMinimumLogLevel(LogLevel.Warning),
)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(
    (reports) => {
      for (const r of reports) {
        const media = (r.media ?? []).map((m) => `${m.kind} ${m.transport} sent ${m.sent} received ${m.received}`).join("; ")
        console.log(`${r.path} via ${r.zone}/${r.mmr} in ${r.totalMs} ms — ${media}`)
      }
    },
    (e: unknown) => {
      console.error(e)
      process.exit(1)
    },
  )
}
