/**
 * The HTTP tunnel: for clients that reach nothing but HTTPS. A TLS server
 * whose `/tunnel` WebSocket carries a client's whole session (see
 * protocol/tunnel.ts):
 *
 *   ping            → pong at once (clients race the tunnels by ping)
 *   hello(token)    → the join token checked; the meeting's roster events follow
 *   request         → forwarded onto NATS under the client policy; the reply back
 *   media channel   → a UDP socket to a live MMR's media port, packets both ways
 *   every second    → presence `tunnel.<id>` with its URL and session count
 *
 * @since 0.1.0
 */
import { createServer } from "node:https"
import type { Duration, Scope } from "effect"
import { Clock, Data, Effect, Layer, Schedule } from "effect"
import { WebSocketServer } from "ws"
import type { KvError } from "../../protocol/errors.js"
import type { MediaKind } from "../../protocol/media.js"
import { defaultDscp } from "../../protocol/media.js"
import { clientPolicy } from "../../protocol/relay.js"
import type { Buckets, Subjects } from "../../protocol/subjects.js"
import { presenceKey } from "../../protocol/subjects.js"
import { JoinTokens } from "../../protocol/token.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { KeyValue } from "../../runtime/KeyValue.js"
import type { TlsIdentity } from "../../transports/tls.js"
import type { TunnelStats } from "../../transports/tunnel/server.js"
import * as TunnelServer from "../../transports/tunnel/server.js"
import * as PresenceView from "../presence-view.js"
import * as Stores from "../stores.js"

/** @category models */
export interface HttpTunnelConfig {
  /** Its name in presence, logs and metrics (`tunnel-1`). */
  readonly id: string
  /** The address to listen on. */
  readonly host: string
  /** 0 picks a free port; 443 in production. */
  readonly port: number
  /** What clients dial; default `wss://<host>:<port>/tunnel`. */
  readonly publicUrl?: string
  /** Its certificate and key (PEM). */
  readonly tls: TlsIdentity
  /** The deployment's NATS subjects (`Subjects.make(prefix)`). */
  readonly subjects: Subjects
  /** The deployment's KV buckets (`Subjects.buckets(prefix)`). */
  readonly buckets: Buckets
  /** How long its presence lives without renewal. Default 3 s. */
  readonly presenceTtl?: Duration.DurationInput
  /** How often it renews presence and reports its sessions. Default 1 s. */
  readonly reportInterval?: Duration.DurationInput
  /** JetStream replicas of the buckets it creates. Default 1. */
  readonly replicas?: number
  /** DSCP marks per kind on its media toward the MMR. Defaults audio 46, video 34, content 26. */
  readonly dscp?: Partial<Record<MediaKind, number>>
}

/** @category models */
export interface HttpTunnelHandle {
  readonly id: string
  readonly url: string
  readonly port: number
  readonly stats: TunnelStats
}

/** @category errors */
/** The tunnel's TLS port could not be bound. @category errors */
export class TunnelListenError extends Data.TaggedError("TunnelListenError")<{ readonly host: string; readonly port: number; readonly detail: string }> {
  override get message(): string {
    return `tunnel ${this.host}:${this.port}: ${this.detail}`
  }
}

/**
 * Starts a tunnel for the life of the scope.
 *
 * @category constructors
 */
export const start = (
  config: HttpTunnelConfig,
): Effect.Effect<HttpTunnelHandle, KvError | TunnelListenError, ControlBus | KeyValue | JoinTokens | Scope.Scope> =>
  Effect.gen(function* () {
    const bus = yield* ControlBus
    const tokens = yield* JoinTokens
    const stores = yield* Stores.open({ buckets: config.buckets, presenceTtl: config.presenceTtl, replicas: config.replicas })
    const presence = yield* PresenceView.watch(stores, config.presenceTtl ?? "3 seconds")

    const server = createServer({ cert: config.tls.cert, key: config.tls.key }, (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" }).end(`meetzone tunnel ${config.id}\n`)
    })
    const wss = new WebSocketServer({ server, path: "/tunnel", maxPayload: 64 * 1024 })
    // ws re-emits the server's errors; a listen error is reported below, as a typed failure.
    wss.on("error", () => {})
    const stats = yield* TunnelServer.attach(
      wss,
      {
        id: config.id,
        bus,
        policy: clientPolicy(config.subjects.prefix),
        tokens,
        rosterSubject: config.subjects.meetingRoster,
        dscp: { ...defaultDscp, ...config.dscp },
        isMediaTarget: (host, port) =>
          Effect.map(presence.mmrs(), (mmrs) => mmrs.some((m) => m.media?.host === host && m.media.port === port)),
      },
    )
    const port = yield* Effect.acquireRelease(
      Effect.async<number, TunnelListenError>((resume) => {
        server.once("error", (e: NodeJS.ErrnoException) =>
          resume(Effect.fail(new TunnelListenError({ host: config.host, port: config.port, detail: e.code === "EADDRINUSE" ? "the port is already in use (another meetzone up?)" : e.message }))),
        )
        server.listen(config.port, config.host, () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : config.port))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          for (const client of wss.clients) client.terminate()
          wss.close()
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        }),
    )
    const url = config.publicUrl ?? `wss://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}/tunnel`

    const key = presenceKey.tunnel(config.id)
    const report = Effect.flatMap(Clock.currentTimeMillis, (at) =>
      stores.presence.put(key, { kind: "tunnel", id: config.id, url, sessions: stats.sessions, at }),
    ).pipe(Effect.catchAll((e) => Effect.logWarning(`tunnel ${config.id}: presence not renewed: ${e.message}`)))
    yield* Effect.addFinalizer(() => stores.presence.delete(key).pipe(Effect.ignore))
    yield* report
    yield* report.pipe(Effect.repeat(Schedule.spaced(config.reportInterval ?? "1 second")), Effect.forkScoped)
    yield* Effect.logInfo(`tunnel ${config.id} at ${url}`)
    return { id: config.id, url, port, stats }
  }).pipe(Effect.annotateLogs("tunnel", config.id))

/**
 * The HTTP tunnel as a Layer, running for the life of the layer: for composing a
 * topology of one's own (merge the layers of the actors a process runs, and
 * provide the control plane and policies once).
 *
 * @category layers
 */
export const layer = (config: HttpTunnelConfig): Layer.Layer<never, KvError | TunnelListenError, ControlBus | KeyValue | JoinTokens> => Layer.scopedDiscard(start(config))
