/**
 * meetzone as a library: the public surface. Everything a team needs to
 * compose its own topology is here, each as a namespace:
 *
 * - the actors, each started from a typed config (`start`, for the life of a
 *   scope, or `layer`): {@link WebLookup}, {@link ZoneController},
 *   {@link Mmr}, {@link HttpTunnel}, and the {@link Client} with its
 *   {@link Lookup} helpers (create a meeting, trust options), how it finds
 *   an HTTP proxy ({@link HttpProxy}) and reaches a tunnel ({@link TunnelClient}),
 *   real Opus audio ({@link OpusTone}) and VP8 video ({@link Vp8Video}) for it
 *   to send, and what it receives
 *   written to files ({@link Recording});
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
 * import { Effect, Layer } from "effect"
 * import { Client, Connector, ControlPlane, Lookup, Topology } from "meetzone"
 *
 * const program = Effect.gen(function* () {
 *   const topology = yield* Topology.Running
 *   const web = topology.web[0]!.url
 *   const tls = { ca: topology.caCert! }
 *   const meeting = yield* Lookup.createMeeting({ web, tls, topic: "standup" })
 *   const ada = yield* Client.join({ web, meeting: meeting.id, name: "Ada", tls, media: { kinds: ["audio"] } })
 *   console.log(ada.report.path, ada.zone, ada.mmr)
 * }).pipe(
 *   Effect.scoped,
 *   Effect.provide(
 *     Layer.mergeAll(Topology.layer(Topology.example), Connector.shared).pipe(Layer.provideMerge(ControlPlane.memoryLayer)),
 *   ),
 * )
 * ```
 *
 * @module meetzone
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
export * as HttpProxy from "./actors/client/proxy.js"
export * as OpusTone from "./actors/client/opus-tone.js"
export * as Recording from "./actors/client/recording.js"
export * as Vp8Video from "./actors/client/vp8-video.js"
export * as TunnelClient from "./transports/tunnel/client.js"

// --- topologies ---------------------------------------------------------------------
export * as Topology from "./topology/Topology.js"
export * as Config from "./topology/config.js"
export * as MmrWorkers from "./topology/mmr-workers.js"
export * as ControlPlane from "./topology/control-plane.js"
export * as NatsIdentities from "./topology/nats-identities.js"
export * as NatsAuth from "./transports/nats/auth.js"
export * as Permissions from "./protocol/permissions.js"

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
