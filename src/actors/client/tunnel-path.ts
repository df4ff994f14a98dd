/**
 * The tunnel path (no controller answered in time): ping every tunnel at
 * once, the first to answer carries the session's control and every media
 * kind inside one TLS connection; then phases 3 and 4 through it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as TunnelClient from "../../transports/tunnel/client.js"
import { NoMmrAvailable } from "./errors.js"
import * as MediaConnect from "./media-connect.js"
import type { Connected, JoinContext, PathFailure } from "./path.js"
import { joinMmr } from "./path.js"
import * as TransportDecision from "./transport-decision.js"
import * as TunnelSelect from "./tunnel-select.js"

/** The tunnel path: the first tunnel to answer carries control and media. */
export const tunnelPath = (ctx: JoinContext): Effect.Effect<Connected, PathFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const { options, info, recorder } = ctx
    const timeoutMs = options.tunnelTimeoutMs ?? 3000
    const tunnelFailed = (reason: string): PathFailure => ({
      ending: "tunnel-failed",
      reason,
      error: (report) => new NoMmrAvailable({ detail: `through the tunnel: ${reason}`, report }),
    })
    const tunnel = yield* recorder
      .phase(
        "tunnel",
        (phase) =>
          Effect.gen(function* () {
            const chosen = yield* TunnelSelect.select(
              info.tunnels.map((t) => t.url),
              (url) =>
                TunnelClient.connect(url, {
                  timeoutMs,
                  ...(options.tls !== undefined ? { tls: options.tls } : {}),
                  ...(ctx.proxyTarget !== undefined ? { proxy: ctx.proxyTarget } : {}),
                }),
              timeoutMs,
              phase,
            )
            yield* Effect.addFinalizer(() => Effect.sync(() => chosen.close()))
            yield* phase.attempt(chosen.url, "hello", chosen.hello(info.joinToken))
            return chosen
          }),
        (t) => ({ chosen: `${t.tunnel} (${t.url}), ping ${t.rttMs.toFixed(1)} ms` }),
      )
      .pipe(Effect.mapError((e) => tunnelFailed(e.message)))
    const timeout = options.media?.attemptTimeoutMs ?? TransportDecision.defaults.attemptTimeoutMs
    return yield* joinMmr(ctx, info.zones, () => tunnel.bus, (kind, target, phase) =>
      phase
        .attempt(`${kind}/tunnel`, `dial via ${tunnel.tunnel}`, MediaConnect.dialTunnel(kind, tunnel, target, timeout))
        .pipe(Effect.mapError((e) => new MediaConnect.KindUnreachable({ kind, tried: [e.message] }))),
      (subject, handler) => Effect.sync(() => tunnel.onEvent((s, data) => s === subject && handler(data))),
    ).pipe(Effect.mapError((f) => (f.ending === "rejected" ? f : tunnelFailed(f.reason))))
  })

