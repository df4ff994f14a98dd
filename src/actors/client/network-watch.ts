/**
 * The network changing under a meeting (Wi-Fi to a hotspot, a new DHCP
 * lease): media re-established on the new path without a re-join.
 *
 *   every intervalMs   the local address of each kind's connection, against the
 *                      host's addresses now (os.networkInterfaces)
 *   an address gone    the control connection is dialled again (a TCP connection
 *                      from a vanished address stalls, it does not fail), fresh
 *                      media tokens are asked of the MMR (MediaTokens), and each
 *                      affected kind is dialled again — its transport first —
 *                      and swapped in; the same participant, the same MMR
 *
 * Each re-dial is a change in the report (`media[].changes[]`, with why).
 *
 * @since 0.3.0
 */
import { isIP } from "node:net"
import { networkInterfaces } from "node:os"
import type { Scope } from "effect"
import { Effect, Schedule } from "effect"
import type { MediaKind, MediaTransport } from "../../protocol/media.js"
import { MediaTokens } from "../../protocol/mmr.js"
import { ask } from "../../runtime/Ask.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { MediaSocket } from "../../transports/media/client.js"
import type { MediaTarget } from "./media-connect.js"
import type * as MediaSession from "./media-session.js"
import type { OnMmr } from "./path.js"

/** @category models */
export interface NetworkWatchDeps {
  readonly meeting: string
  readonly token: string
  readonly session: string
  readonly media: MediaSession.MediaSession
  readonly current: OnMmr
  readonly dscp: Readonly<Record<MediaKind, number>>
  /** The transports this session may use, best first. */
  readonly candidates: ReadonlyArray<MediaTransport>
  readonly dial: (kind: MediaKind, transports: ReadonlyArray<MediaTransport>, target: MediaTarget) => Effect.Effect<MediaSocket, { readonly message: string }>
  readonly sinceJoin: () => number
  /** The host's addresses now; default from os.networkInterfaces. */
  readonly addresses?: () => ReadonlySet<string>
}

let snapshot: { readonly at: number; readonly addresses: ReadonlySet<string> } | undefined

/**
 * Every address of every interface of this host (its network namespace), at
 * most 200 ms old: one read serves every session in the process.
 *
 * @category observing
 */
export const hostAddresses = (): ReadonlySet<string> => {
  const now = performance.now()
  if (snapshot !== undefined && now - snapshot.at < 200) return snapshot.addresses
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address)
  snapshot = { at: now, addresses: out }
  return out
}

/** The address part of `address:port` (IPv6 too), when it is an IP at all. */
const hostOf = (local: string | undefined): string | undefined => {
  if (local === undefined) return undefined
  const host = local.slice(0, local.lastIndexOf(":"))
  return isIP(host) !== 0 && host !== "0.0.0.0" && host !== "::" ? host : undefined
}

/**
 * Watches for the life of the scope.
 *
 * @category constructors
 */
export const start = (deps: NetworkWatchDeps, options: { readonly intervalMs?: number } = {}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { media, current } = deps
    const addresses = deps.addresses ?? hostAddresses

    const recover = (gone: ReadonlyArray<readonly [MediaKind, string]>) =>
      Effect.gen(function* () {
        const at = performance.now()
        yield* current.bus.reconnect ?? Effect.void
        // Back once a round trip to the server completes: a request before that would wait out its timeout.
        yield* current.bus.flush.pipe(Effect.timeout("1 second"), Effect.ignore)
        const tokens = yield* ask(current.placement.subject, new MediaTokens({ meeting: deps.meeting, token: deps.token, session: deps.session }), {
          timeout: "500 millis",
        }).pipe(
          Effect.provideService(ControlBus, current.bus),
          // The new control connection may take a moment: a few quick tries, bounded.
          Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(8)))),
        )
        const endpoints = current.joined.media!
        yield* Effect.forEach(
          gone,
          ([kind, address]) =>
            Effect.gen(function* () {
              const from = media.transportOf(kind) as MediaTransport
              const order = [from, ...deps.candidates.filter((t) => t !== from)].filter((t) => deps.candidates.includes(t))
              const socket = yield* deps.dial(kind, order, { host: endpoints.host, port: endpoints.port, tlsPort: endpoints.tlsPort, tokens: tokens[kind] })
              media.replace([{ kind, socket, dscp: deps.dscp[kind] }])
              const why = `network changed: ${address} is gone; media again from ${socket.local} in ${Math.round(performance.now() - at)} ms`
              media.noteChange(kind, { atMs: Math.round(deps.sinceJoin()), from, to: socket.transport as MediaTransport, why })
              yield* Effect.logInfo(`${kind}: ${why}`)
            }).pipe(Effect.tapError((e) => Effect.logWarning(`${kind}: could not re-establish media after a network change: ${e.message}`)), Effect.ignore),
          { concurrency: "unbounded", discard: true },
        )
      }).pipe(
        Effect.tapError((e) => Effect.logWarning(`media tokens after a network change: ${"message" in e ? e.message : String(e)}`)),
        Effect.ignore,
      )

    const tick = Effect.gen(function* () {
      const now = addresses()
      const gone: Array<readonly [MediaKind, string]> = []
      for (const kind of media.kinds) {
        if (media.transportOf(kind) === "tunnel") continue
        const host = hostOf(media.localOf(kind))
        if (host !== undefined && !now.has(host)) gone.push([kind, host])
      }
      if (gone.length > 0) yield* recover(gone)
    })
    yield* tick.pipe(Effect.repeat(Schedule.spaced(options.intervalMs ?? 250)), Effect.forkScoped)
  })
