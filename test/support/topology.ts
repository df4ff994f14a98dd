/**
 * A whole topology for tests, on whatever control plane the test provides
 * (a real nats-server, or in-process), with quick timing.
 */
import { Effect, Either, Layer } from "effect"
import type { ConfigInput } from "../../src/topology/config.js"
import * as Config from "../../src/topology/config.js"
import * as Topology from "../../src/topology/Topology.js"

export const TOKEN_SECRET = "test-secret-test-secret-test-secret-!"

/** 2 zones × 2 controllers × 2 MMRs, Dublin and Virginia, quick reports. */
export const twoZones = (over: Partial<ConfigInput> = {}): ConfigInput => ({
  ...Config.defaultTopology,
  tokenSecret: TOKEN_SECRET,
  timing: { reportInterval: "200 millis", presenceTtl: "1 second", mmrTtl: "1 second", joinTokenTtl: "1 minute" },
  ...over,
})

/** Starts the topology of `input` in the current scope; returns it with its decoded config. */
export const start = (input: ConfigInput, natsUrls: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const config = yield* Either.match(Config.decode(input, "test topology"), {
      onLeft: (e) => Effect.dieMessage(e.message),
      onRight: Effect.succeed,
    })
    const services = yield* Layer.build(Topology.services(config))
    const topology = yield* Topology.start(config, natsUrls).pipe(Effect.provide(services), Effect.orDie)
    return { topology, config, services, web: topology.web[0]!.url, tls: { ca: topology.caCert! } }
  })
