/**
 * How a client reaches the control plane a lookup pointed it to: NATS when
 * it can; otherwise the web tier's relay, over TLS (WebSocket) — always so
 * behind an HTTP proxy, and as the fallback when NATS does not answer (only
 * TLS gets through). In one process, the shared bus.
 *
 * @since 0.1.0
 */
import { createConnection } from "node:net"
import type { Scope } from "effect"
import { Clock, Context, Effect, Layer } from "effect"
import { BusError } from "../protocol/errors.js"
import type { ControlBusShape } from "../runtime/ControlBus.js"
import { ControlBus } from "../runtime/ControlBus.js"
import * as NatsBus from "./nats/bus.js"
import { connectScoped } from "./nats/connection.js"
import type { ProxyTarget } from "./proxy.js"
import * as Relay from "./relay/client.js"

/** Where the control plane can be reached. @category models */
export interface ControlTarget {
  readonly nats: ReadonlyArray<string>
  /** The relay's wss:// URL, when the web tier offers one. */
  readonly relay: string | undefined
}

/** @category models */
export interface ConnectOptions {
  /** The connection's name, shown by the server's monitoring. */
  readonly name: string
  /** How long connecting may take in all, NATS and then the relay. */
  readonly timeoutMs: number
  /** Behind a proxy only the relay is tried, through it. */
  readonly proxy?: ProxyTarget
  /** Trust for the relay's (and NATS's) TLS: a CA in PEM, or `insecure` to verify nothing (development only). */
  readonly tls?: {
    /** A CA to trust (PEM) besides the system's. */
    readonly ca?: string
    /** Verify nothing (development only). */
    readonly insecure?: boolean
  }
  /** How long NATS gets before the relay is tried. Default 1.5 s. */
  readonly natsTimeoutMs?: number
  /** The join token: the relay takes no connection without one. */
  readonly token?: string
  /** The join's own NATS identity, when the deployment's NATS has auth on. */
  readonly credentials?: {
    /** The `.creds` text (user JWT and NKey seed) the web lookup issued. */
    readonly creds: string
    /** The only inbox its permissions allow. */
    readonly inboxPrefix: string
    /** The NATS servers' CA (PEM). */
    readonly ca?: string
  }
}

/** @category models */
export interface Connected {
  readonly bus: ControlBusShape
  /** What carries it: a NATS URL list, the relay URL, or "in-process". */
  readonly via: string
  readonly kind: "nats" | "relay" | "in-process"
}

/** @category models */
export interface BusConnectorShape {
  /** Connects to a zone's control plane (NATS, else the relay; in-process: the shared bus). */
  readonly connect: (target: ControlTarget, options: ConnectOptions) => Effect.Effect<Connected, BusError, Scope.Scope>
}

/** @category tags */
export class BusConnector extends Context.Tag("meetzone/BusConnector")<BusConnector, BusConnectorShape>() {}

const viaRelay = (target: ControlTarget, options: ConnectOptions, why: string) =>
  target.relay === undefined
    ? Effect.fail(new BusError({ operation: "connect", detail: `${why}, and the web tier offers no relay` }))
    : Effect.map(
        Relay.connect(target.relay, {
          timeoutMs: options.timeoutMs,
          ...(options.tls !== undefined ? { tls: options.tls } : {}),
          ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
          ...(options.token !== undefined ? { bearer: options.token } : {}),
        }),
        (bus): Connected => ({ bus, via: target.relay!, kind: "relay" }),
      )

/**
 * Can a TCP connection to one of `urls` open within `timeoutMs`? Checked
 * before nats.js dials: when a firewall silently drops the SYN, nats.js's
 * connect timeout leaves its socket pending, which keeps a process alive
 * until the kernel gives up (minutes).
 */
const reachable = (urls: ReadonlyArray<string>, timeoutMs: number) =>
  Effect.async<boolean>((resume) => {
    const sockets = urls.map((u) => {
      const url = new URL(u.includes("://") ? u : `nats://${u}`)
      return createConnection({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 4222) })
    })
    let pending = sockets.length
    const done = (ok: boolean) => {
      clearTimeout(timer)
      for (const s of sockets) s.destroy()
      resume(Effect.succeed(ok))
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    for (const s of sockets) {
      s.once("connect", () => done(true))
      s.once("error", () => {
        if (--pending === 0) done(false)
      })
    }
    return Effect.sync(() => {
      clearTimeout(timer)
      for (const s of sockets) s.destroy()
    })
  })

/**
 * Real connections: NATS, or the relay.
 *
 * @category layers
 */
export const nats: Layer.Layer<BusConnector> = Layer.succeed(BusConnector, {
  connect: (target, options) => {
    if (options.proxy !== undefined) return viaRelay(target, options, "behind an HTTP proxy")
    if (target.nats.length === 0) return viaRelay(target, options, "no NATS endpoint given")
    const natsTimeoutMs = Math.min(options.natsTimeoutMs ?? 1500, options.timeoutMs)
    const direct = Effect.flatMap(reachable(target.nats, natsTimeoutMs), (ok) =>
      ok
        ? Effect.void
        : Effect.fail(new BusError({ operation: "connect", detail: `no TCP answer from ${target.nats.join(", ")} in ${natsTimeoutMs} ms` })),
    ).pipe(
      Effect.zipRight(connectScoped({
        servers: target.nats,
        name: options.name,
        connectTimeoutMs: natsTimeoutMs,
        // For as long as the session lasts: nats.js re-subscribes on its own, with its default jitter.
        maxReconnectAttempts: -1,
        ...(options.credentials !== undefined ? { creds: options.credentials.creds, inboxPrefix: options.credentials.inboxPrefix } : {}),
        ...(options.credentials?.ca !== undefined ? { tls: { ca: options.credentials.ca } } : {}),
      })),
      Effect.map((nc): Connected => ({ bus: NatsBus.make(nc), via: target.nats.join(","), kind: "nats" })),
    )
    // The relay gets what is left of `timeoutMs` after the NATS attempt, not a fresh one: the caller's deadline holds.
    return Effect.flatMap(Clock.currentTimeMillis, (started) =>
      Effect.catchAll(direct, (e) =>
        target.relay === undefined
          ? Effect.fail(e)
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
              viaRelay(target, { ...options, timeoutMs: Math.max(1, options.timeoutMs - (now - started)) }, `NATS unreachable (${e.detail})`),
            ),
      ),
    )
  },
})

/**
 * The bus already in context, whatever the target (single-process topologies).
 *
 * @category layers
 */
export const shared: Layer.Layer<BusConnector, never, ControlBus> = Layer.effect(
  BusConnector,
  Effect.map(ControlBus, (bus) => ({
    connect: () => Effect.succeed({ bus, via: "in-process", kind: "in-process" } satisfies Connected),
  })),
)
