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
import type { ControlBus } from "../runtime/ControlBus.js"
import type { KeyValue } from "../runtime/KeyValue.js"
import * as MemoryBus from "../transports/memory/bus.js"
import * as MemoryKv from "../transports/memory/kv.js"
import * as NatsBus from "../transports/nats/bus.js"
import type { NatsConfig } from "../transports/nats/connection.js"
import * as NatsKv from "../transports/nats/kv.js"
import * as NatsServer from "../transports/nats/server.js"
import * as Auth from "../transports/nats/auth.js"

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
  readonly secured: Option.Option<SecuredNats>
}

/**
 * A deployment's NATS with auth on: where it is, and the secrets each
 * actor's identity and each join's is made from.
 *
 * @category models
 */
export interface SecuredNats {
  readonly servers: ReadonlyArray<string>
  readonly secrets: Auth.Secrets
}

/** One actor as the bus knows it. @category models */
export interface ActorIdentity {
  readonly role: Permissions.Role
  readonly id: string
  readonly zone?: string
}

/**
 * One actor's control plane over a connection of its own, with its own
 * identity: it can reach its own subjects and keys, nothing else.
 *
 * @category layers
 */
export const actorLayer = (
  nats: SecuredNats,
  subjects: Subjects,
  buckets: Buckets,
  actor: ActorIdentity,
): Layer.Layer<ControlBus | KeyValue> => {
  const name = `meetzone-${actor.role}-${actor.zone !== undefined ? `${actor.zone}-` : ""}${actor.id}`
  return Layer.unwrapEffect(
    Effect.map(
      Auth.userCreds(nats.secrets, "actor", { name, permissions: Permissions.forActor(subjects, buckets, actor.role, actor.id, actor.zone) }),
      (creds) => natsLayer({ servers: nats.servers, name, creds, inboxPrefix: Permissions.inboxPrefix.actor(actor.role, actor.id) }),
    ).pipe(Effect.orDie),
  )
}

/**
 * What the web lookup hands each join: credentials for `scope` only,
 * expiring with the join, with a few subscriptions and small messages.
 *
 * @category credentials
 */
export const clientCredentials =
  (nats: SecuredNats, subjects: Subjects) =>
  (scope: Permissions.ClientScope, expiresAt: number): Effect.Effect<string, Auth.AuthError> =>
    Auth.userCreds(nats.secrets, "client", {
      name: `client-${scope.participant}`,
      permissions: Permissions.forClient(subjects, scope),
      expiresAt,
      maxSubscriptions: 16,
      maxPayload: 64 * 1024,
    })

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
}): Effect.Effect<ControlPlane, NatsServer.NatsServerError, import("effect").Scope.Scope> =>
  Effect.gen(function* () {
    if (Option.isSome(options.nats)) {
      const servers = options.nats.value.servers
      return {
        kind: "nats",
        urls: typeof servers === "string" ? [servers] : [...servers],
        layer: natsLayer({ ...options.nats.value, name: options.name }),
        secured: Option.none(),
      } satisfies ControlPlane
    }
    if (Option.isSome(NatsServer.findBinary())) {
      // Our own server: auth on, every actor and every join an identity of its own.
      const secrets = Auth.generate()
      const trust = yield* Auth.trust(secrets).pipe(Effect.mapError((e) => new NatsServer.NatsServerError({ detail: e.message })))
      const server = yield* NatsServer.start({ auth: Auth.serverConfig(trust) })
      const operatorCreds = yield* Auth.userCreds(secrets, "actor", { name: options.name, permissions: Permissions.operator }).pipe(
        Effect.mapError((e) => new NatsServer.NatsServerError({ detail: e.message })),
      )
      return {
        kind: "nats-started",
        urls: [server.url],
        layer: natsLayer({ servers: server.url, name: options.name, creds: operatorCreds, inboxPrefix: `_I.operator.${options.name}` }),
        secured: Option.some({ servers: [server.url], secrets }),
      } satisfies ControlPlane
    }
    yield* Effect.logWarning(
      "nats-server not found: running on the in-process bus (one process only). Install nats-server or pass --nats URL.",
    )
    return { kind: "memory", urls: [], layer: memoryLayer, secured: Option.none() } satisfies ControlPlane
  })
