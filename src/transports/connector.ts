/**
 * How a client reaches the control plane a lookup pointed it to: given a
 * zone's NATS endpoints, a ControlBus. Over NATS, one connection per distinct
 * set of endpoints, closed with the scope; in one process, the shared bus.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Context, Effect, Layer } from "effect"
import { BusError } from "../protocol/errors.js"
import type { ControlBusShape } from "../runtime/ControlBus.js"
import { ControlBus } from "../runtime/ControlBus.js"
import * as NatsBus from "./nats/bus.js"
import { connectScoped } from "./nats/connection.js"

/** @category models */
export interface BusConnectorShape {
  readonly connect: (
    endpoints: ReadonlyArray<string>,
    options: { readonly name: string; readonly timeoutMs: number },
  ) => Effect.Effect<ControlBusShape, BusError, Scope.Scope>
}

/** @category tags */
export class BusConnector extends Context.Tag("meetzone/BusConnector")<BusConnector, BusConnectorShape>() {}

/**
 * New NATS connections, one per call.
 *
 * @category layers
 */
export const nats: Layer.Layer<BusConnector> = Layer.succeed(BusConnector, {
  connect: (endpoints, { name, timeoutMs }) =>
    endpoints.length === 0
      ? Effect.fail(new BusError({ operation: "connect", detail: "no NATS endpoint given for this zone" }))
      : Effect.map(
          connectScoped({ servers: endpoints, name, connectTimeoutMs: timeoutMs, maxReconnectAttempts: 10 }),
          NatsBus.make,
        ),
})

/**
 * The bus already in context, whatever the endpoints (single-process topologies).
 *
 * @category layers
 */
export const shared: Layer.Layer<BusConnector, never, ControlBus> = Layer.effect(
  BusConnector,
  Effect.map(ControlBus, (bus) => ({ connect: () => Effect.succeed(bus) })),
)
