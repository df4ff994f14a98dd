/**
 * meetzone as a library: the public surface. Everything a team needs to
 * compose its own topology is here, each as a namespace:
 *
 * - the actors, each started from a typed config (`start`, for the life of a
 *   scope, or `layer`): {@link WebLookup}, {@link ZoneController},
 *   {@link Mmr}, {@link HttpTunnel}, and the {@link Client} with its
 *   {@link Lookup} helpers (create a meeting, trust options);
 * - {@link Topology}: a whole topology from a plain description
 *   ({@link Config}, the shape of the configuration file) in a few lines;
 * - the control plane: {@link ControlBus} and {@link KeyValue} with their
 *   NATS ({@link NatsBus}, {@link NatsKv}, {@link NatsServer}) and in-process
 *   ({@link InProcessBus}, {@link InProcessKv}) implementations, and
 *   {@link ControlPlane} to pick one; {@link Connector} says how a client
 *   reaches control;
 * - the policies a team may replace, each a service with a default:
 *   {@link MmrSelection} (where meetings land), {@link ZoneScoring} (which
 *   zone a client takes), {@link Geo} (where clients are),
 *   {@link JoinTokens} (who may join), {@link TransportStrategy} (the media
 *   fallback: `sequential`, `race`, or the team's own, given as
 *   `media.strategy`); a client's media can come from the team's own
 *   streams (`media.sources`, `media.receive`);
 * - the protocol: messages, reports and typed errors ({@link Protocol},
 *   {@link JoinReport}, {@link ClientErrors});
 * - the actor kernel ({@link Actor}, {@link Ask}, {@link Topic}) for actors of
 *   one's own.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Connector, Lookup, Topology } from "meetzone"
 *
 * const program = Effect.gen(function* () {
 *   const topology = yield* Topology.launch(Topology.example)
 *   const meeting = yield* Lookup.create(topology.web[0]!.url, { ca: topology.caCert! })
 *   const ada = yield* Client.join({ web: topology.web[0]!.url, meeting, name: "Ada", tls: { ca: topology.caCert! } })
 *   console.log(ada.report)
 * }).pipe(Effect.scoped, Effect.provide(Topology.inProcess), Effect.provide(Connector.shared), …)
 * ```
 *
 * @since 0.1.0
 */

// --- actors -------------------------------------------------------------------------
export * as WebLookup from "./actors/web-lookup/WebLookup.js"
export * as ZoneController from "./actors/zone-controller/ZoneController.js"
export * as Mmr from "./actors/mmr/Mmr.js"
export * as HttpTunnel from "./actors/http-tunnel/HttpTunnel.js"
export * as Client from "./actors/client/Client.js"
export * as Lookup from "./actors/client/lookup.js"
export * as ClientErrors from "./actors/client/errors.js"

// --- topologies ---------------------------------------------------------------------
export * as Topology from "./topology/Topology.js"
export * as Config from "./topology/config.js"
export * as ControlPlane from "./topology/control-plane.js"

// --- control plane --------------------------------------------------------------------
export * as ControlBus from "./runtime/ControlBus.js"
export * as KeyValue from "./runtime/KeyValue.js"
export * as NatsBus from "./transports/nats/bus.js"
export * as NatsKv from "./transports/nats/kv.js"
export * as NatsConnection from "./transports/nats/connection.js"
export * as NatsServer from "./transports/nats/server.js"
export * as InProcessBus from "./transports/memory/bus.js"
export * as InProcessKv from "./transports/memory/kv.js"
export * as Connector from "./transports/connector.js"
export * as Tls from "./transports/tls.js"

// --- policies -----------------------------------------------------------------------
export * as MmrSelection from "./actors/zone-controller/selector.js"
export * as ZoneScoring from "./actors/client/zone-scoring.js"
export * as TransportStrategy from "./actors/client/transport-decision.js"
export * as Geo from "./actors/web-lookup/geo.js"
export * as JoinTokens from "./protocol/token.js"

// --- protocol -----------------------------------------------------------------------
export * as Protocol from "./protocol/index.js"
export * as JoinReport from "./protocol/join-report.js"

// --- the actor kernel -------------------------------------------------------------------
export * as Actor from "./runtime/Actor.js"
export * as Ask from "./runtime/Ask.js"
export * as Topic from "./runtime/Topic.js"
