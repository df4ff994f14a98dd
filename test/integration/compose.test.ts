/**
 * A topology composed by hand from the actors' Layers, the way a backend
 * team embeds meetzone: one web lookup, one zone with a controller and an
 * MMR, the in-process control plane and the default policies provided once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, Option } from "effect"
import { Client, Connector, ControlPlane, Geo, JoinTokens, Lookup, MmrSelection, Mmr, NatsServer, Protocol, Tls, WebLookup, ZoneController } from "../../src/index.js"

describe("composing a topology from the actors' Layers", () => {
  it.live("a client joins a meeting placed on the MMR of the only zone", () =>
    Effect.gen(function* () {
      const subjects = Protocol.Subjects.make("team")
      const buckets = Protocol.Subjects.buckets("team")
      const ca = yield* Tls.devCa()
      const port = yield* NatsServer.freePort()
      const actors = Layer.mergeAll(
        WebLookup.layer({
          id: "web",
          host: "127.0.0.1",
          port,
          tls: yield* ca.issue(["127.0.0.1"]),
          zones: [{ id: "home", name: "Home", location: { lat: 0, lon: 0 }, nats: [] }],
          trustedProxies: [],
          subjects,
          buckets,
        }),
        ZoneController.layer({ zone: "home", id: "c1", subjects, buckets }),
        Mmr.layer({
          id: "m1",
          zone: "home",
          capacity: 10,
          subjects,
          buckets,
          media: { bindHost: "127.0.0.1", advertiseHost: "127.0.0.1", port: 0, tlsPort: 0, tls: yield* ca.issue(["127.0.0.1"]) },
        }),
      )
      const policies = Layer.mergeAll(JoinTokens.layerHmac("a-team-secret-a-team-secret-a-team"), Geo.layer({ cidrMap: [] }), MmrSelection.layerLeastLoaded)
      const web = `https://127.0.0.1:${port}`
      const session = yield* Effect.gen(function* () {
        const meeting = yield* Lookup.createMeeting(yield* Lookup.dispatcher({ ca: ca.cert }, Option.none()), new URL(web), { timeoutMs: 5000 })
        return yield* Client.join({ web, meeting: meeting.id, tls: { ca: ca.cert }, proxy: "none", media: { kinds: ["audio"] } })
      }).pipe(Effect.provide(Layer.mergeAll(actors, Connector.shared).pipe(Layer.provide(policies), Layer.provideMerge(ControlPlane.memoryLayer))))
      expect(session.report.path).toBe("direct")
      expect(session.zone).toBe("home")
      expect(session.mmr).toBe("m1")
      expect(session.report.phases.map((p) => [p.name, p.outcome])).toEqual([
        ["lookup", "ok"],
        ["zone-selection", "ok"],
        ["mmr-selection", "ok"],
        ["media", "ok"],
      ])
    }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning)),
  )
})
