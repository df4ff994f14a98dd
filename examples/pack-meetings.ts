/**
 * A custom MMR selection policy: pack meetings onto the fewest MMRs (the
 * fullest MMR that still has room), instead of the default least-loaded
 * spread — e.g. so idle MMRs can be scaled down. Nothing in the library
 * changes: the policy is a service the zone controllers use.
 *
 *   npx tsx examples/pack-meetings.ts
 */
import { Effect, Layer, Logger, LogLevel, Option } from "effect"
import { Client, Connector, ControlPlane, Lookup, MmrSelection, Topology } from "../src/index.js"

/** The fullest MMR with headroom; ties to the id, so the choice is stable. */
export const packing: MmrSelection.MmrSelectorShape = {
  select: (candidates) => {
    const fits = candidates.filter(MmrSelection.hasHeadroom)
    fits.sort((a, b) => MmrSelection.expectedParticipants(b) - MmrSelection.expectedParticipants(a) || a.load.mmr.localeCompare(b.load.mmr))
    return Option.fromNullable(fits[0])
  },
}

/**
 * One zone, two MMRs of 4 participants each: small, so that one participant
 * (a quarter of an MMR) outweighs the CPU term of the default policy — both
 * MMRs run in this one process and report its CPU over different windows.
 */
const description = {
  web: [{ id: "web-1", port: 0 }],
  zones: [
    {
      id: "eu-west",
      location: { lat: 53.35, lon: -6.26 },
      controllers: [{ id: "c1" }],
      mmrs: [
        { id: "eu-mmr-1", capacity: 4 },
        { id: "eu-mmr-2", capacity: 4 },
      ],
    },
  ],
}

/** Creates `meetings` meetings, one participant each; returns the MMR each landed on. */
export const placements = (selector: MmrSelection.MmrSelectorShape | undefined, meetings = 4) =>
  Effect.gen(function* () {
    const topology = yield* Topology.Running
    const web = topology.web[0]!.url
    const tls = { ca: topology.caCert! }
    const http = yield* Lookup.dispatcher(tls, Option.none())
    const hosts: Array<string> = []
    for (let i = 0; i < meetings; i++) {
      const meeting = yield* Lookup.createMeeting(http, new URL(web), { topic: `meeting ${i}`, timeoutMs: 5000 })
      const session = yield* Client.join({ web, meeting: meeting.id, name: `p${i}`, tls, proxy: "none" })
      hosts.push(session.mmr)
      // Let the MMR's next load report tell the controller about this participant.
      yield* Effect.sleep("300 millis")
    }
    return hosts
  }).pipe(
    Effect.scoped,
    Effect.provide(
      Layer.mergeAll(Topology.layer({ ...description, timing: { reportInterval: "100 millis" } }), Connector.shared).pipe(
        // A team's policy goes under the topology: the controllers it starts use it.
        Layer.provide(selector === undefined ? Layer.empty : Layer.succeed(MmrSelection.MmrSelector, selector)),
        Layer.provideMerge(ControlPlane.memoryLayer),
      ),
    ),
    Logger.withMinimumLogLevel(LogLevel.Warning),
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(Effect.all([placements(undefined), placements(packing)])).then(([spread, packed]) => {
    console.log(`least loaded (default): ${spread.join(", ")}`)
    console.log(`packing:                ${packed.join(", ")}`)
  })
}
