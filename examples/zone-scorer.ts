/**
 * A custom zone scoring policy: data residency. Clients of this deployment
 * may only use zones whose id starts with a given prefix, whatever the probes
 * say; among those, the default rule (latency, jitter, loss, Geo-IP rank).
 *
 *   npx tsx examples/zone-scorer.ts us-
 */
import { Effect, Layer, Logger, LogLevel } from "effect"
import { Client, Connector, ControlPlane, Lookup, Topology, ZoneScoring } from "../src/index.js"

/** Only zones whose id starts with `prefix`, best first by the default rule. */
export const residency = (prefix: string): ZoneScoring.ZoneScoringShape => ({
  rank: (scores) => ZoneScoring.lowestScore().rank(scores).filter((s) => s.zone.startsWith(prefix)),
})

/** Joins one client under `scoring` (or the default); returns the zone it took. */
export const zoneTaken = (scoring: ZoneScoring.ZoneScoringShape | undefined) =>
  Effect.gen(function* () {
    const topology = yield* Topology.Running
    const web = topology.web[0]!.url
    const tls = { ca: topology.caCert! }
    const meeting = yield* Lookup.createMeeting({ web, tls })
    const session = yield* Client.join({ web, meeting: meeting.id, tls, proxy: "none" }).pipe(
      // The client's policy is a service in its context; nothing else changes.
      Effect.provide(scoring === undefined ? Layer.empty : Layer.succeed(ZoneScoring.ZoneScoring, scoring)),
    )
    return { zone: session.zone, scores: session.report.phases.find((p) => p.name === "zone-selection")?.zones ?? [] }
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(Topology.layer(Topology.example), Connector.shared).pipe(Layer.provideMerge(ControlPlane.memoryLayer))),
    Logger.withMinimumLogLevel(LogLevel.Warning),
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const prefix = process.argv[2] ?? "us-"
  Effect.runPromise(Effect.all([zoneTaken(undefined), zoneTaken(residency(prefix))])).then(([free, resident]) => {
    console.log(`default scoring: ${free.zone}  (${free.scores.map((s) => `${s.zone} ${s.score} ms`).join(", ")})`)
    console.log(`residency ${prefix}*: ${resident.zone}`)
  })
}
