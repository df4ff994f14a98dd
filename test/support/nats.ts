/**
 * Real nats-server processes for integration tests: one server, or a 3-node
 * JetStream cluster, on free loopback ports, stopped by PID when the test's
 * scope closes. Fails with a clear message when nats-server is missing.
 */
import { Context, Effect, Layer, Option } from "effect"
import * as NatsBus from "../../src/transports/nats/bus.js"
import type { NatsConfig } from "../../src/transports/nats/connection.js"
import * as NatsKv from "../../src/transports/nats/kv.js"
import * as NatsServer from "../../src/transports/nats/server.js"

const requireBinary = Effect.suspend(() =>
  Option.isSome(NatsServer.findBinary())
    ? Effect.void
    : Effect.dieMessage(
        "integration tests need the nats-server binary: apt-get install nats-server (or set NATS_SERVER_BIN). `.ci/run` installs it.",
      ),
)

/** The server a test runs against. */
export class TestNats extends Context.Tag("test/TestNats")<TestNats, NatsServer.NatsServerProcess>() {}

/** The cluster a fault test runs against. */
export class TestNatsCluster extends Context.Tag("test/TestNatsCluster")<TestNatsCluster, NatsServer.NatsCluster>() {}

/** One JetStream-enabled server for the life of the layer. */
export const server: Layer.Layer<TestNats> = Layer.scoped(
  TestNats,
  Effect.zipRight(requireBinary, Effect.orDie(NatsServer.start())),
)

/** A 3-node JetStream cluster for the life of the layer. */
export const cluster: Layer.Layer<TestNatsCluster> = Layer.scoped(
  TestNatsCluster,
  Effect.zipRight(requireBinary, Effect.orDie(NatsServer.startCluster(3))),
)

/** ControlBus + KeyValue + NatsConnection over one connection to `config`. */
export const clientLayer = (config: NatsConfig) =>
  NatsKv.layerFromConnection.pipe(Layer.provideMerge(NatsBus.layer(config)), Layer.orDie)

/** A fresh server and a client connected to it. */
export const serverWithClient = Layer.unwrapScoped(
  Effect.map(TestNats, (s) => clientLayer({ servers: s.url, name: "test" })),
).pipe(Layer.provideMerge(server))
