/**
 * Joins a meeting N times with media (all three kinds) and prints the media
 * phase's duration of each, as one JSON array. Run inside a network namespace
 * by bench/sfu.ts:  netns-joins.ts WEB CA_FILE MEETING STRATEGY N
 */
import { readFile } from "node:fs/promises"
import { Effect, Logger, LogLevel } from "effect"
import * as Client from "../src/actors/client/Client.js"
import type { Strategy } from "../src/actors/client/transport-decision.js"
import * as Connector from "../src/transports/connector.js"

const [web, caFile, meeting, strategy, n] = process.argv.slice(2) as [string, string, string, Strategy, string]

const program = Effect.gen(function* () {
  const ca = yield* Effect.promise(() => readFile(caFile, "utf8"))
  const times: Array<number> = []
  for (let i = 0; i < Number(n); i++) {
    const report = yield* Effect.scoped(
      Effect.map(
        Client.join({ web, meeting, tls: { ca }, proxy: "none", media: { kinds: ["audio", "video", "content"], strategy } }),
        (s) => s.report,
      ),
    )
    times.push(report.phases.find((p) => p.name === "media")!.ms)
  }
  console.log(JSON.stringify(times))
}).pipe(Effect.provide(Connector.nats), Logger.withMinimumLogLevel(LogLevel.Error))

Effect.runPromise(program).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
