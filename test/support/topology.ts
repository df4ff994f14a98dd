/**
 * A whole topology for tests, on whatever control plane the test provides
 * (a real nats-server, or in-process), with quick timing.
 */
import { Context, Effect, Either, Layer, Option } from "effect"
import * as Subjects from "../../src/protocol/subjects.js"
import type { ConfigInput } from "../../src/topology/config.js"
import * as ControlPlane from "../../src/topology/control-plane.js"
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

/**
 * The topology of `input` on a nats-server of its own with meetzone's auth
 * and TLS on, as `meetzone up` runs it: every actor connects with its own
 * identity, every join gets one. The server stops with the scope.
 */
export const startSecured = (input: ConfigInput) =>
  Effect.gen(function* () {
    const config = yield* Either.match(Config.decode(input, "test topology"), {
      onLeft: (e) => Effect.dieMessage(e.message),
      onRight: Effect.succeed,
    })
    const plane = yield* ControlPlane.acquire({
      nats: Option.none(),
      name: "test-secured",
      subjects: Subjects.make(config.prefix),
      buckets: Subjects.buckets(config.prefix),
    }).pipe(Effect.orDie)
    if (Option.isNone(plane.secured)) return yield* Effect.dieMessage("the started nats-server has no auth")
    const services = yield* Layer.build(Layer.merge(plane.layer, Topology.services(config)))
    const topology = yield* Topology.start(config, plane.urls, undefined, plane.secured.value).pipe(Effect.provide(services), Effect.orDie)
    return { topology, config, web: topology.web[0]!.url, tls: { ca: topology.caCert! }, natsUrls: plane.urls }
  })

/** A secured topology shared by a file's tests (`startSecuredLayer`): its web URL and CA. */
export class Secured extends Context.Tag("test/Secured")<Secured, { readonly web: string; readonly tls: { readonly ca: string } }>() {}

export const startSecuredLayer = (input: ConfigInput): Layer.Layer<Secured> =>
  Layer.scoped(Secured, Effect.map(Effect.orDie(startSecured(input)), (s) => ({ web: s.web, tls: s.tls })))
