/**
 * One NATS connection per process, as a scoped service: connected when the
 * layer is built, drained when its scope closes, reconnecting (forever, by
 * default) in between, with every status change logged.
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import type { NatsConnection as NatsConnectionImpl, NodeConnectionOptions, Status } from "@nats-io/transport-node"
import type { Authenticator } from "@nats-io/transport-node"
import { connect, credsAuthenticator } from "@nats-io/transport-node"
import { encode as encodeBase64Url } from "@nats-io/nkeys"
import * as Ed25519 from "./ed25519.js"
import { Context, Effect, Layer, Stream } from "effect"
import { BusError } from "../../protocol/errors.js"
import type { Stoppable } from "./iterators.js"
import { fromQueuedIterator } from "./iterators.js"

/**
 * How to reach NATS.
 *
 * @category models
 */
export interface NatsConfig {
  /** One or more `host:port` or `nats://host:port` URLs (several for a cluster). */
  readonly servers: string | ReadonlyArray<string>
  /** Connection name shown by the server's monitoring (`connz`). */
  readonly name?: string
  /** User name, for a server with user/password auth. */
  readonly user?: string
  /** Its password. */
  readonly pass?: string
  /** Token, for a server with token auth. */
  readonly token?: string
  /** A `.creds` file (JWT + NKey seed) for decentralised auth. */
  readonly credsFile?: string
  /** The same, as text (a join's credentials, handed out by the web lookup). */
  readonly creds?: string
  /** Where replies to this connection's requests go; its permissions allow it no other inbox. */
  readonly inboxPrefix?: string
  /** TLS to the server: trust `ca` (PEM text) or `caFile`; a client certificate when the server asks for one. */
  readonly tls?: {
    /** The servers' CA, as PEM text. */
    readonly ca?: string
    /** The same, from a file. */
    readonly caFile?: string
    /** A client certificate (PEM file), for a server that asks for one. */
    readonly certFile?: string
    /** Its key (PEM file). */
    readonly keyFile?: string
  }
  /** Pause between reconnect attempts. Default 250 ms. */
  readonly reconnectTimeWaitMs?: number
  /** -1 (default) reconnects forever: actors outlive a server restart. */
  readonly maxReconnectAttempts?: number
  /** How long the first connect may take. Default 20 s (nats.js's). */
  readonly connectTimeoutMs?: number
}

/**
 * @category tags
 */
export class NatsConnection extends Context.Tag("meetzone/NatsConnection")<NatsConnection, NatsConnectionImpl>() {}

/**
 * A `.creds` text's authenticator whose nonce signature comes from Node's
 * Ed25519 (a join connects with fresh credentials every time; nats.js's own
 * signs in JavaScript, ~15 ms). Same creds format as nats.js reads.
 */
const signingWithNodeCrypto = (creds: string): Authenticator => {
  const sections = [...creds.matchAll(/[-]{3,}[^\n]*[-]{3,}\n(.+)\n\s*[-]{3,}[^\n]*[-]{3,}\n?/gi)].map((m) => m[1]!.trim())
  const [jwt, seed] = sections
  if (jwt === undefined || seed === undefined) return credsAuthenticator(new TextEncoder().encode(creds))
  const key = Ed25519.fromNkeysSeed(new TextEncoder().encode(seed))
  return (nonce?: string) => ({ jwt, nkey: key.getPublicKey(), sig: nonce ? encodeBase64Url(key.sign(new TextEncoder().encode(nonce))) : "" })
}

const toOptions = (config: NatsConfig): Effect.Effect<NodeConnectionOptions, BusError> =>
  Effect.gen(function* () {
    const options: NodeConnectionOptions = {
      servers: typeof config.servers === "string" ? config.servers : [...config.servers],
      reconnectTimeWait: config.reconnectTimeWaitMs ?? 250,
      maxReconnectAttempts: config.maxReconnectAttempts ?? -1,
      // An Error per request only for a stack trace costs ~10% of a round trip.
      noAsyncTraces: true,
      waitOnFirstConnect: false,
    }
    if (config.name !== undefined) options.name = config.name
    if (config.connectTimeoutMs !== undefined) options.timeout = config.connectTimeoutMs
    if (config.user !== undefined) options.user = config.user
    if (config.pass !== undefined) options.pass = config.pass
    if (config.token !== undefined) options.token = config.token
    if (config.creds !== undefined) options.authenticator = signingWithNodeCrypto(config.creds)
    if (config.inboxPrefix !== undefined) options.inboxPrefix = config.inboxPrefix
    if (config.credsFile !== undefined) {
      const creds = yield* Effect.tryPromise({
        try: () => readFile(config.credsFile!),
        catch: (e) => new BusError({ operation: "connect", detail: `cannot read creds file: ${String(e)}` }),
      })
      options.authenticator = credsAuthenticator(creds)
    }
    if (config.tls !== undefined) {
      options.tls = {
        ...(config.tls.ca !== undefined ? { ca: config.tls.ca } : {}),
        ...(config.tls.caFile !== undefined ? { caFile: config.tls.caFile } : {}),
        ...(config.tls.certFile !== undefined ? { certFile: config.tls.certFile } : {}),
        ...(config.tls.keyFile !== undefined ? { keyFile: config.tls.keyFile } : {}),
      }
    }
    return options
  })

/**
 * Connects, logs status changes until the scope closes, then drains.
 *
 * @category constructors
 */
export const connectScoped = (config: NatsConfig) =>
  Effect.gen(function* () {
    const options = yield* toOptions(config)
    const nc = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => connect(options),
        catch: (e) =>
          new BusError({
            operation: "connect",
            detail: `cannot connect to ${String(options.servers)}: ${e instanceof Error ? e.message : String(e)}`,
          }),
      }),
      (nc) =>
        Effect.promise(() => (nc.isClosed() ? Promise.resolve() : nc.drain().catch(() => nc.close()))).pipe(
          Effect.timeout("5 seconds"),
          Effect.ignore,
        ),
    )
    yield* fromQueuedIterator(
      Effect.sync(() => nc.status() as Stoppable<Status>),
      (e) => e,
    ).pipe(
      Stream.runForEach((status) =>
        // pings and reconnect attempts are routine; disconnects and reconnects are news.
        status.type === "ping" || status.type === "reconnecting"
          ? Effect.logDebug(`nats ${status.type}`)
          : Effect.logInfo(`nats ${status.type}`, status),
      ),
      Effect.ignore,
      Effect.forkScoped,
    )
    yield* Effect.logDebug(`nats connected to ${nc.getServer()}`)
    return nc
  })

/**
 * @category layers
 */
export const layer = (config: NatsConfig): Layer.Layer<NatsConnection, BusError> =>
  Layer.scoped(NatsConnection, connectScoped(config))
