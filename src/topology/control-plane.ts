/**
 * Where an app's control plane comes from: a NATS URL it was given, a
 * nats-server it starts itself (JetStream, temp dir) when the binary is
 * present, or — failing both — the in-process bus and store, said out loud.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option } from "effect"
import type { ControlBus } from "../runtime/ControlBus.js"
import type { KeyValue } from "../runtime/KeyValue.js"
import * as MemoryBus from "../transports/memory/bus.js"
import * as MemoryKv from "../transports/memory/kv.js"
import * as NatsBus from "../transports/nats/bus.js"
import type { NatsConfig } from "../transports/nats/connection.js"
import * as NatsKv from "../transports/nats/kv.js"
import * as NatsServer from "../transports/nats/server.js"

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
}): Effect.Effect<ControlPlane, NatsServer.NatsServerError, import("effect").Scope.Scope> =>
  Effect.gen(function* () {
    if (Option.isSome(options.nats)) {
      const servers = options.nats.value.servers
      return {
        kind: "nats",
        urls: typeof servers === "string" ? [servers] : [...servers],
        layer: natsLayer({ ...options.nats.value, name: options.name }),
      } satisfies ControlPlane
    }
    if (Option.isSome(NatsServer.findBinary())) {
      const server = yield* NatsServer.start()
      return {
        kind: "nats-started",
        urls: [server.url],
        layer: natsLayer({ servers: server.url, name: options.name }),
      } satisfies ControlPlane
    }
    yield* Effect.logWarning(
      "nats-server not found: running on the in-process bus (one process only). Install nats-server or pass --nats URL.",
    )
    return { kind: "memory", urls: [], layer: memoryLayer } satisfies ControlPlane
  })
