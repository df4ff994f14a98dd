/**
 * A topology from a configuration: every actor in it (`meetzone up`), or the
 * ones a selection picks (`meetzone mmr --id …` runs one). The control plane
 * (ControlBus + KeyValue) comes from the caller, so the same topology runs
 * over NATS or in-process.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { Context, Data, Duration, Effect, Either, ExecutionStrategy, Layer, Option, Scope } from "effect"
import * as HttpTunnel from "../actors/http-tunnel/HttpTunnel.js"
import * as Mmr from "../actors/mmr/Mmr.js"
import * as Geo from "../actors/web-lookup/geo.js"
import * as WebLookup from "../actors/web-lookup/WebLookup.js"
import { layerLeastLoaded, MmrSelector } from "../actors/zone-controller/selector.js"
import * as ZoneController from "../actors/zone-controller/ZoneController.js"
import * as Subjects from "../protocol/subjects.js"
import * as Token from "../protocol/token.js"
import type { ControlBus } from "../runtime/ControlBus.js"
import type { KeyValue } from "../runtime/KeyValue.js"
import * as Tls from "../transports/tls.js"
import type { Config, ConfigInput } from "./config.js"
import * as Identities from "./nats-identities.js"
import * as MmrWorkers from "./mmr-workers.js"
import { decode } from "./config.js"

/** One actor of a configuration. @category models */
export interface ActorRef {
  readonly role: "web" | "controller" | "mmr" | "tunnel"
  readonly id: string
  /** Controllers and MMRs belong to a zone. */
  readonly zone?: string
}

/** How an actor is named on the command line (`--id`): `zone/id` for controllers and MMRs, else its id. @category models */
export const actorId = (actor: ActorRef): string => (actor.zone !== undefined ? `${actor.zone}/${actor.id}` : actor.id)

/** How an actor is named to operators: its role and {@link actorId}, e.g. `mmr eu-west/eu-mmr-1`. @category models */
export const actorName = (actor: ActorRef): string => `${actor.role} ${actorId(actor)}`

/** Every actor `config` describes. @category models */
export const actorsOf = (config: Config): ReadonlyArray<ActorRef> => [
  ...config.web.map((w) => ({ role: "web" as const, id: w.id })),
  ...config.zones.flatMap((z) => [
    ...z.controllers.map((c) => ({ role: "controller" as const, id: c.id, zone: z.id })),
    ...z.mmrs.flatMap((m) => MmrWorkers.of(m).map((w) => ({ role: "mmr" as const, id: w.id, zone: z.id }))),
  ]),
  ...config.tunnels.map((t) => ({ role: "tunnel" as const, id: t.id })),
]

/** @category models */
export interface Topology {
  readonly web: ReadonlyArray<WebLookup.WebLookupHandle & { readonly id: string }>
  readonly controllers: ReadonlyArray<{ readonly zone: string; readonly id: string; readonly handle: ZoneController.ZoneControllerHandle }>
  readonly mmrs: ReadonlyArray<{ readonly zone: string; readonly id: string; readonly handle: Mmr.MmrHandle }>
  readonly tunnels: ReadonlyArray<HttpTunnel.HttpTunnelHandle>
  /** The CA clients must trust, when the topology issued its own certificates. */
  readonly caCert: string | undefined
  /** One line per actor, for a banner. */
  readonly lines: ReadonlyArray<string>
}

/**
 * The services a topology needs besides the control plane: join tokens,
 * Geo-IP and the MMR selector (the defaults; a team may provide its own).
 *
 * @category layers
 */
export const services = (
  config: Config,
): Layer.Layer<Token.JoinTokens | Geo.GeoLocator | MmrSelector, Geo.GeoDatabaseError> =>
  Layer.mergeAll(
    Token.layerHmac(config.tokenSecret ?? randomBytes(32).toString("hex")),
    Geo.layer({ cidrMap: config.geo.cidr, ...(config.geo.database !== undefined ? { databasePath: config.geo.database } : {}) }),
    layerLeastLoaded,
  )

/**
 * Starts every actor of `config` for the life of the scope.
 *
 * @param natsUrls what clients are told to connect to, when nothing more specific is configured
 * @category constructors
 */
export const start = (
  config: Config,
  natsUrls: ReadonlyArray<string>,
  only: (actor: ActorRef) => boolean = () => true,
  /** NATS with auth on: each actor connects with its own identity, and each join gets one (else the shared plane in the context). */
  secured?: Identities.Identities,
): Effect.Effect<
  Topology,
  unknown,
  ControlBus | KeyValue | Token.JoinTokens | Geo.GeoLocator | MmrSelector | Scope.Scope
> =>
  Effect.gen(function* () {
    const subjects = Subjects.make(config.prefix)
    const buckets = Subjects.buckets(config.prefix)
    const { presenceTtl, reportInterval, mmrTtl, joinTokenTtl } = config.timing
    const replicas = config.nats.replicas
    const lines: Array<string> = []
    let ca: Tls.DevCa | undefined = config.devCa !== undefined ? yield* Tls.devCaFromFiles(config.devCa) : undefined
    const identity = (files: { certFile: string; keyFile: string } | undefined, hosts: ReadonlyArray<string>) =>
      files !== undefined
        ? Tls.fromFiles(files)
        : Effect.gen(function* () {
            ca ??= yield* Tls.devCa()
            return yield* ca.issue([...new Set([...hosts, "localhost", "127.0.0.1", "::1"])])
          })

    /** `effect` over the actor's own connection and identity, when auth is on. */
    const asActor = <A, E, R>(actor: ActorRef, effect: Effect.Effect<A, E, R>) =>
      secured === undefined
        ? effect
        : Effect.flatMap(Layer.build(Identities.actorLayer(secured, actor)), (context) => Effect.provide(effect, context))

    // The MMRs stop together (in parallel), after everything else: each drains in its own grace, not one after
    // another. Each has a scope of its own inside, closed in order: its drain before its own NATS connection.
    const mmrScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.parallel)
    const mmrs = []
    const controllers = []
    for (const zone of config.zones) {
      for (const m of zone.mmrs.flatMap((group) => MmrWorkers.of(group))) {
        if (!only({ role: "mmr", id: m.id, zone: zone.id })) continue
        const advertise = m.advertiseHost ?? m.bindHost
        const handle = yield* asActor({ role: "mmr", id: m.id, zone: zone.id }, Mmr.start({
          id: m.id,
          zone: zone.id,
          capacity: m.capacity,
          subjects,
          buckets,
          reportInterval,
          presenceTtl,
          replicas,
          drainGrace: config.timing.drainGrace,
          participantTtl: config.timing.participantTtl,
          media: {
            bindHost: m.bindHost,
            advertiseHost: advertise,
            port: m.mediaPort,
            tlsPort: m.tlsPort,
            tls: yield* identity(undefined, [advertise, m.bindHost]),
            dscp: config.media.dscp,
            silenceMs: Duration.toMillis(config.media.silence),
            rtcpIntervalMs: Duration.toMillis(config.media.rtcpInterval),
            cname: `mmr-${m.id}`,
            maxPacketsPerSecond: config.media.maxPacketsPerSecond,
            maxBytesPerSecond: config.media.maxBytesPerSecond,
          },
        })).pipe(Scope.extend(yield* Scope.fork(mmrScope, ExecutionStrategy.sequential)))
        mmrs.push({ zone: zone.id, id: m.id, handle })
        const media = handle.media?.endpoints
        lines.push(
          `mmr              ${zone.id}/${m.id}  capacity ${m.capacity}  media ${media?.host}: udp+tcp ${media?.port}, tls ${media?.tlsPort}`,
        )
      }
      for (const c of zone.controllers) {
        if (!only({ role: "controller", id: c.id, zone: zone.id })) continue
        const handle = yield* asActor({ role: "controller", id: c.id, zone: zone.id }, ZoneController.start({
          zone: zone.id,
          id: c.id,
          subjects,
          buckets,
          mmrTtl,
          presenceInterval: reportInterval,
          presenceTtl,
          replicas,
          muteWindow: config.timing.muteWindow,
        }))
        controllers.push({ zone: zone.id, id: c.id, handle })
        lines.push(`zone controller  ${zone.id}/${c.id}  on ${subjects.controller(zone.id, c.id)}`)
      }
    }

    const tunnels = []
    for (const t of config.tunnels) {
      if (!only({ role: "tunnel", id: t.id })) continue
      const tls = yield* identity(t.tls, [t.host])
      const handle = yield* asActor({ role: "tunnel", id: t.id }, HttpTunnel.start({
        id: t.id,
        host: t.host,
        port: t.port,
        ...(t.publicUrl !== undefined ? { publicUrl: t.publicUrl } : {}),
        tls,
        subjects,
        buckets,
        presenceTtl,
        reportInterval,
        replicas,
        dscp: config.media.dscp,
      }))
      tunnels.push(handle)
      lines.push(`http tunnel      ${t.id}  ${handle.url}`)
    }

    const web = []
    for (const w of config.web) {
      if (!only({ role: "web", id: w.id })) continue
      const tls = yield* identity(w.tls, [w.host])
      const handle = yield* asActor({ role: "web", id: w.id }, WebLookup.start({
        id: w.id,
        host: w.host,
        port: w.port,
        ...(w.publicUrl !== undefined ? { publicUrl: w.publicUrl } : {}),
        tls,
        trustedProxies: w.trustedProxies,
        zones: config.zones.map((z) => ({
          id: z.id,
          name: z.name ?? z.id,
          location: z.location,
          nats: z.nats ?? config.nats.clientUrls ?? natsUrls,
        })),
        subjects,
        buckets,
        presenceTtl,
        replicas,
        joinTokenTtl,
        ...(w.opsToken !== undefined ? { opsToken: w.opsToken } : {}),
        limits: w.limits,
        mediaKeys: config.media.encryption && {
          rekeyEvery: config.media.rekeyEvery,
          activateInMs: Duration.toMillis(Duration.decode(config.media.rekeyActivation)),
        },
        ...(secured?.clientSigner !== undefined ? { clientCredentials: Identities.clientCredentials(secured.clientSigner, subjects) } : {}),
        ...(secured?.ca !== undefined ? { natsCa: secured.ca } : {}),
      }))
      web.push({ id: w.id, ...handle })
      lines.unshift(`web lookup       ${w.id}  ${handle.url}`)
    }
    return { web, controllers, mmrs, tunnels, caCert: ca?.cert, lines }
  })

/** A running topology, as a service. @category tags */
export class Running extends Context.Tag("meetzone/Topology")<Running, Topology>() {}

/** Why a description could not be launched. @category errors */
export class LaunchError extends Data.TaggedError("LaunchError")<{ readonly detail: string; readonly cause?: unknown }> {
  override get message(): string {
    return this.detail
  }
}

/**
 * The policies already in the context, over the defaults of `config` for the
 * rest: a team that provides its own MMR selector (or Geo-IP, or token
 * signer) gets it used, without touching anything else.
 */
const policies = (config: Config) =>
  Effect.gen(function* () {
    let context = yield* Layer.build(services(config))
    const tokens = yield* Effect.serviceOption(Token.JoinTokens)
    if (Option.isSome(tokens)) context = Context.add(context, Token.JoinTokens, tokens.value)
    const geo = yield* Effect.serviceOption(Geo.GeoLocator)
    if (Option.isSome(geo)) context = Context.add(context, Geo.GeoLocator, geo.value)
    const selector = yield* Effect.serviceOption(MmrSelector)
    if (Option.isSome(selector)) context = Context.add(context, MmrSelector, selector.value)
    return context
  })

/**
 * Every actor a plain description names (the configuration file's shape,
 * defaults filled in), on the control plane in the context, for the life of
 * the scope. Policies in the context win over the defaults.
 *
 * @example
 * const topology = yield* Topology.launch({
 *   web: [{ id: "web-1", port: 0 }],
 *   zones: [{ id: "eu", location: { lat: 53.3, lon: -6.3 }, controllers: [{ id: "c1" }], mmrs: [{ id: "m1" }] }],
 * })
 *
 * @category constructors
 */
export const launch = (
  description: ConfigInput,
  options: { readonly natsUrls?: ReadonlyArray<string> } = {},
): Effect.Effect<Topology, LaunchError, ControlBus | KeyValue | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* Either.match(decode(description, "topology description"), {
      onLeft: (e) => Effect.fail(new LaunchError({ detail: e.message, cause: e })),
      onRight: Effect.succeed,
    })
    const context = yield* policies(config).pipe(Effect.mapError((e) => new LaunchError({ detail: e.message, cause: e })))
    return yield* start(config, options.natsUrls ?? config.nats.servers ?? []).pipe(
      Effect.provide(context),
      Effect.mapError((e) => new LaunchError({ detail: e instanceof Error ? e.message : String(e), cause: e })),
    )
  })

/**
 * {@link launch} as a Layer: the running topology as the {@link Running}
 * service.
 *
 * @category layers
 */
export const layer = (
  description: ConfigInput,
  options: { readonly natsUrls?: ReadonlyArray<string> } = {},
): Layer.Layer<Running, LaunchError, ControlBus | KeyValue> => Layer.scoped(Running, launch(description, options))

/**
 * A small topology for examples and tests: one web lookup, two zones of one
 * controller and two MMRs each, one tunnel, all on loopback.
 *
 * @category descriptions
 */
export const example: ConfigInput = {
  web: [{ id: "web-1", port: 0 }],
  zones: [
    { id: "eu-west", name: "Europe West", location: { lat: 53.35, lon: -6.26 }, controllers: [{ id: "c1" }], mmrs: [{ id: "eu-mmr-1" }, { id: "eu-mmr-2" }] },
    { id: "us-east", name: "US East", location: { lat: 38.9, lon: -77.04 }, controllers: [{ id: "c1" }], mmrs: [{ id: "us-mmr-1" }, { id: "us-mmr-2" }] },
  ],
  tunnels: [{ id: "tunnel-1" }],
}
