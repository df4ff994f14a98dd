/**
 * A topology from a configuration: every actor in it (`meetzone up`), or the
 * ones a selection picks (`meetzone mmr --id …` runs one). The control plane
 * (ControlBus + KeyValue) comes from the caller, so the same topology runs
 * over NATS or in-process.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type { Scope } from "effect"
import { Duration, Effect, Layer } from "effect"
import * as HttpTunnel from "../actors/http-tunnel/HttpTunnel.js"
import * as Mmr from "../actors/mmr/Mmr.js"
import * as Geo from "../actors/web-lookup/geo.js"
import * as WebLookup from "../actors/web-lookup/WebLookup.js"
import { layerLeastLoaded } from "../actors/zone-controller/selector.js"
import type { MmrSelector } from "../actors/zone-controller/selector.js"
import * as ZoneController from "../actors/zone-controller/ZoneController.js"
import * as Subjects from "../protocol/subjects.js"
import * as Token from "../protocol/token.js"
import type { ControlBus } from "../runtime/ControlBus.js"
import type { KeyValue } from "../runtime/KeyValue.js"
import * as Tls from "../transports/tls.js"
import type { Config } from "./config.js"

/** One actor of a configuration. @category models */
export interface ActorRef {
  readonly role: "web" | "controller" | "mmr" | "tunnel"
  readonly id: string
  /** Controllers and MMRs belong to a zone. */
  readonly zone?: string
}

/** Every actor `config` describes. @category models */
export const actorsOf = (config: Config): ReadonlyArray<ActorRef> => [
  ...config.web.map((w) => ({ role: "web" as const, id: w.id })),
  ...config.zones.flatMap((z) => [
    ...z.controllers.map((c) => ({ role: "controller" as const, id: c.id, zone: z.id })),
    ...z.mmrs.map((m) => ({ role: "mmr" as const, id: m.id, zone: z.id })),
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

    const mmrs = []
    const controllers = []
    for (const zone of config.zones) {
      for (const m of zone.mmrs) {
        if (!only({ role: "mmr", id: m.id, zone: zone.id })) continue
        const advertise = m.advertiseHost ?? m.bindHost
        const handle = yield* Mmr.start({
          id: m.id,
          zone: zone.id,
          capacity: m.capacity,
          subjects,
          buckets,
          reportInterval,
          presenceTtl,
          replicas,
          drainGrace: config.timing.drainGrace,
          media: {
            bindHost: m.bindHost,
            advertiseHost: advertise,
            port: m.mediaPort,
            tlsPort: m.tlsPort,
            tls: yield* identity(undefined, [advertise, m.bindHost]),
            dscp: config.media.dscp,
            silenceMs: Duration.toMillis(config.media.silence),
          },
        })
        mmrs.push({ zone: zone.id, id: m.id, handle })
        const media = handle.media?.endpoints
        lines.push(
          `mmr              ${zone.id}/${m.id}  capacity ${m.capacity}  media ${media?.host}: udp+tcp ${media?.port}, tls ${media?.tlsPort}`,
        )
      }
      for (const c of zone.controllers) {
        if (!only({ role: "controller", id: c.id, zone: zone.id })) continue
        const handle = yield* ZoneController.start({
          zone: zone.id,
          id: c.id,
          subjects,
          buckets,
          mmrTtl,
          presenceInterval: reportInterval,
          presenceTtl,
          replicas,
        })
        controllers.push({ zone: zone.id, id: c.id, handle })
        lines.push(`zone controller  ${zone.id}/${c.id}  on ${subjects.controller(zone.id, c.id)}`)
      }
    }

    const tunnels = []
    for (const t of config.tunnels) {
      if (!only({ role: "tunnel", id: t.id })) continue
      const handle = yield* HttpTunnel.start({
        id: t.id,
        host: t.host,
        port: t.port,
        ...(t.publicUrl !== undefined ? { publicUrl: t.publicUrl } : {}),
        tls: yield* identity(t.tls, [t.host]),
        subjects,
        buckets,
        presenceTtl,
        reportInterval,
        replicas,
        dscp: config.media.dscp,
      })
      tunnels.push(handle)
      lines.push(`http tunnel      ${t.id}  ${handle.url}`)
    }

    const web = []
    for (const w of config.web) {
      if (!only({ role: "web", id: w.id })) continue
      const handle = yield* WebLookup.start({
        id: w.id,
        host: w.host,
        port: w.port,
        ...(w.publicUrl !== undefined ? { publicUrl: w.publicUrl } : {}),
        tls: yield* identity(w.tls, [w.host]),
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
      })
      web.push({ id: w.id, ...handle })
      lines.unshift(`web lookup       ${w.id}  ${handle.url}`)
    }
    return { web, controllers, mmrs, tunnels, caCert: ca?.cert, lines }
  })
