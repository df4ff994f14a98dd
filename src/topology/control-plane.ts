/**
 * Where an app's control plane comes from: a NATS URL it was given, a
 * nats-server it starts itself (JetStream, temp dir) when the binary is
 * present, or — failing both — the in-process bus and store, said out loud.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option } from "effect"
import * as Permissions from "../protocol/permissions.js"
import type { Buckets, Subjects } from "../protocol/subjects.js"
import * as Identities from "./nats-identities.js"
import type { ControlBus } from "../runtime/ControlBus.js"
import type { KeyValue } from "../runtime/KeyValue.js"
import * as MemoryBus from "../transports/memory/bus.js"
import * as MemoryKv from "../transports/memory/kv.js"
import * as NatsBus from "../transports/nats/bus.js"
import type { NatsConfig } from "../transports/nats/connection.js"
import * as NatsKv from "../transports/nats/kv.js"
import * as NatsServer from "../transports/nats/server.js"
import * as Auth from "../transports/nats/auth.js"
import * as Tls from "../transports/tls.js"

/**
 * What the app ended up with, for its banner.
 *
 * @category models
 */
export interface ControlPlane {
  readonly kind: "nats" | "nats-started" | "memory"
  /** URLs other processes can use to join; empty for the in-process bus. */
  readonly urls: ReadonlyArray<string>
  readonly layer: Layer.Layer<ControlBus | KeyValue>
  /** With auth on: what gives each actor and each join an identity of its own. */
  readonly secured: Option.Option<Identities.Identities>
}

/**
 * ControlBus + KeyValue over one NATS connection.
 *
 * @category layers
 */
export const natsLayer = (config: NatsConfig): Layer.Layer<ControlBus | KeyValue, never> =>
  NatsKv.layerFromConnection.pipe(Layer.provideMerge(NatsBus.layer(config)), Layer.orDie)

/**
 * In-process ControlBus + KeyValue: one shared instance of each.
 *
 * @category layers
 */
export const memoryLayer: Layer.Layer<ControlBus | KeyValue> = Layer.merge(MemoryBus.layer, MemoryKv.layer)

/**
 * Resolves the control plane for the life of the scope.
 *
 * @category constructors
 */
export const acquire = (options: {
  readonly nats: Option.Option<NatsConfig>
  readonly name: string
  /** The deployment's subject and bucket names (the identities' permissions are made from them). */
  readonly subjects: Subjects
  readonly buckets: Buckets
  /** A directory from `meetzone nats-auth init`: the actors connect to `nats` with the identities in it. */
  readonly credsDir?: string
}): Effect.Effect<ControlPlane, NatsServer.NatsServerError, import("effect").Scope.Scope> =>
  Effect.gen(function* () {
    if (Option.isSome(options.nats)) {
      const servers = options.nats.value.servers
      const urls = typeof servers === "string" ? [servers] : [...servers]
      if (options.credsDir !== undefined) {
        // Every actor connects with its own identity from the directory; nothing uses a shared connection.
        const identities = yield* Identities.fromDirectory(urls, options.credsDir, options.nats.value.tls?.caFile).pipe(
          Effect.mapError((e) => new NatsServer.NatsServerError({ detail: e.message })),
        )
        return { kind: "nats", urls, layer: memoryLayer, secured: Option.some(identities) } satisfies ControlPlane
      }
      return {
        kind: "nats",
        urls,
        layer: natsLayer({ ...options.nats.value, name: options.name }),
        secured: Option.none(),
      } satisfies ControlPlane
    }
    if (Option.isSome(NatsServer.findBinary())) {
      // Our own server: auth on, every actor and every join an identity of its own.
      const secrets = Auth.generate()
      const trust = yield* Auth.trust(secrets).pipe(Effect.mapError((e) => new NatsServer.NatsServerError({ detail: e.message })))
      // TLS only, with a certificate from a CA of its own: actors trust it, and each join is told it over HTTPS.
      const ca = yield* Tls.devCa("meetzone NATS CA")
      const certificate = yield* ca.issue(["127.0.0.1", "localhost", "::1"])
      const server = yield* NatsServer.start({ auth: Auth.serverConfig(trust), tls: certificate })
      const made = yield* Effect.all({
        operatorCreds: Effect.flatMap(Auth.signer(secrets, "actor"), (by) => Auth.userCreds(by, { name: options.name, permissions: Permissions.operator })),
        identities: Identities.fromSecrets([server.url], secrets, options.subjects, options.buckets, ca.cert),
      }).pipe(Effect.mapError((e) => new NatsServer.NatsServerError({ detail: e.message })))
      return {
        kind: "nats-started",
        urls: [server.url],
        layer: natsLayer({ servers: server.url, name: options.name, creds: made.operatorCreds, inboxPrefix: `_I.operator.${options.name}`, tls: { ca: ca.cert } }),
        secured: Option.some(made.identities),
      } satisfies ControlPlane
    }
    yield* Effect.logWarning(
      "nats-server not found: running on the in-process bus (one process only). Install nats-server or pass --nats URL.",
    )
    return { kind: "memory", urls: [], layer: memoryLayer, secured: Option.none() } satisfies ControlPlane
  })
