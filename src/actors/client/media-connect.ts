/**
 * Phase 4, media routing, the shell around `transport-decision.ts`: for one
 * media kind, dial transports as the decision says, each attempt bound with
 * its own media token (a STUN Binding Request; retransmitted over UDP) and
 * timed out on its own; keep the winner, close the rest.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { Clock, Data, Deferred, Effect, Fiber, Queue } from "effect"
import type { MediaKind, MediaTransport } from "../../protocol/media.js"
import * as Stun from "../../protocol/stun.js"
import type { MediaSocket } from "../../transports/media/client.js"
import { openStream, openUdp } from "../../transports/media/client.js"
import type { ProxyTarget } from "../../transports/proxy.js"
import type { TunnelConnection } from "../../transports/tunnel/client.js"
import type { TlsTrust } from "./lookup.js"
import type { PhaseRecorder } from "./report.js"
import type { TransportOptions } from "./transport-decision.js"
import { decide } from "./transport-decision.js"

/** Where and with what to bind one media kind. @category models */
export interface MediaTarget {
  readonly host: string
  /** UDP and TCP. */
  readonly port: number
  readonly tlsPort: number
  readonly tokens: Readonly<Record<MediaTransport, string>>
}

/** @category models */
export interface DialOptions {
  readonly dscp: number
  readonly tls: TlsTrust
  readonly proxy: ProxyTarget | undefined
}

/** @category errors */
export class DialFailed extends Data.TaggedError("DialFailed")<{ readonly transport: MediaTransport | "tunnel"; readonly detail: string }> {
  override get message(): string {
    return `${this.transport}: ${this.detail}`
  }
}

/** No transport reached the MMR for one media kind (what the join's `MediaUnreachable` is made of). @category errors */
export class KindUnreachable extends Data.TaggedError("KindUnreachable")<{
  readonly kind: MediaKind
  readonly tried: ReadonlyArray<string>
}> {
  override get message(): string {
    return `no transport reached the MMR for ${this.kind}: ${this.tried.join("; ")}`
  }
}

/**
 * Binds an open socket with `token` (a STUN Binding Request, asked again at
 * 100, 200, 400 ms… when the path loses packets); closes it unless bound.
 *
 * @category dialing
 */
export const bindSocket = (
  socket: MediaSocket,
  token: string,
  retransmit: boolean,
  timeoutMs: number,
): Effect.Effect<MediaSocket, DialFailed> =>
  Effect.gen(function* () {
    const failed = (detail: string) => new DialFailed({ transport: socket.transport, detail })
    const answered = yield* Deferred.make<void, DialFailed>()
    const transaction = randomBytes(12)
    socket.onClose((reason) => Deferred.unsafeDone(answered, Effect.fail(failed(reason))))
    socket.onPacket((packet) => {
      const message = Stun.decode(packet)
      if (message === undefined || !message.transactionId.equals(transaction)) return
      if (message.type === Stun.Type.BindingSuccess) Deferred.unsafeDone(answered, Effect.void)
      else if (message.type === Stun.Type.BindingError) {
        const e = Stun.errorCode(message)
        Deferred.unsafeDone(answered, Effect.fail(failed(`refused: ${e?.code} ${e?.reason}`)))
      }
    })
    const request = Stun.bindingRequest(transaction, token)
    const send = Effect.sync(() => void socket.send(request))
    const again = (wait: number): Effect.Effect<never> =>
      Effect.zipRight(Effect.zipRight(send, Effect.sleep(wait)), Effect.suspend(() => again(Math.min(wait * 2, 1000))))
    const asking: Effect.Effect<never> = retransmit ? again(100) : Effect.zipRight(send, Effect.never)
    return yield* Effect.raceFirst(Deferred.await(answered), asking).pipe(
      Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => failed(`no answer in ${timeoutMs} ms`) }),
      Effect.as(socket),
      Effect.onExit((exit) => (exit._tag === "Success" ? Effect.void : Effect.sync(() => socket.close()))),
    )
  })

/**
 * Opens `transport` straight to the MMR and binds it with that transport's token.
 *
 * @category dialing
 */
export const dial = (
  transport: MediaTransport,
  target: MediaTarget,
  options: DialOptions,
  timeoutMs: number,
): Effect.Effect<MediaSocket, DialFailed> =>
  Effect.tryPromise({
    try: () =>
      transport === "udp"
        ? openUdp({ host: target.host, port: target.port, dscp: options.dscp })
        : openStream({
            host: target.host,
            port: transport === "tls" ? target.tlsPort : target.port,
            dscp: options.dscp,
            timeoutMs,
            ...(transport === "tls" ? { tls: options.tls } : {}),
            ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
          }),
    catch: (e) => new DialFailed({ transport, detail: e instanceof Error ? e.message : String(e) }),
  }).pipe(Effect.flatMap((socket) => bindSocket(socket, target.tokens[transport], transport === "udp", timeoutMs)))

/**
 * Opens a media channel inside the tunnel and binds it. The tunnel's hop to
 * the MMR is UDP, so the UDP token binds it, asked again when lost.
 *
 * @category dialing
 */
export const dialTunnel = (
  kind: MediaKind,
  tunnel: TunnelConnection,
  target: MediaTarget,
  timeoutMs: number,
): Effect.Effect<MediaSocket, DialFailed> =>
  tunnel.openMedia(kind, target.host, target.port).pipe(
    Effect.mapError((e) => new DialFailed({ transport: "tunnel", detail: e.detail })),
    Effect.flatMap((socket) => bindSocket(socket, target.tokens.udp, true, timeoutMs)),
  )

/**
 * Chooses and opens the transport for one media kind.
 *
 * @category connecting
 */
export const connectKind = (
  kind: MediaKind,
  candidates: ReadonlyArray<MediaTransport>,
  target: MediaTarget,
  options: DialOptions & TransportOptions,
  phase: PhaseRecorder,
): Effect.Effect<MediaSocket, KindUnreachable> =>
  Effect.gen(function* () {
    interface Running {
      readonly transport: MediaTransport
      readonly startedAt: number
      readonly fiber: Fiber.RuntimeFiber<MediaSocket, DialFailed>
      outcome?: { ok: boolean; at: number; socket?: MediaSocket; detail?: string }
    }
    const running: Array<Running> = []
    const outcomes = yield* Queue.unbounded<Running>()

    const start = (transport: MediaTransport) =>
      Effect.gen(function* () {
        const startedAt = yield* Clock.currentTimeMillis
        const at = yield* phase.at
        const entry = { transport, startedAt } as Running
        const fiber = yield* Effect.forkDaemon(
          dial(transport, target, options, options.attemptTimeoutMs).pipe(
            Effect.tapBoth({
              onSuccess: (socket) =>
                Effect.flatMap(Clock.currentTimeMillis, (now) =>
                  Effect.sync(() => void (entry.outcome = { ok: true, at: now, socket })),
                ),
              onFailure: (e) =>
                Effect.flatMap(Clock.currentTimeMillis, (now) =>
                  Effect.sync(() => void (entry.outcome = { ok: false, at: now, detail: e.detail })),
                ),
            }),
            Effect.ensuring(
              Effect.flatMap(phase.at, (end) =>
                Effect.sync(() => {
                  phase.record({
                    target: `${kind}/${transport}`,
                    action: `dial ${transport === "tls" ? target.tlsPort : target.port}${options.proxy ? " via proxy" : ""}`,
                    startMs: Math.round(at * 100) / 100,
                    ms: Math.round((end - at) * 100) / 100,
                    outcome: entry.outcome?.ok === true ? "ok" : entry.outcome?.detail?.startsWith("no answer") ? "timeout" : "failed",
                    ...(entry.outcome?.detail !== undefined ? { detail: entry.outcome.detail } : {}),
                  })
                }),
              ),
            ),
            Effect.ensuring(Queue.offer(outcomes, entry)),
          ),
        )
        running.push(Object.assign(entry, { fiber }))
      })

    const closeLosers = (winner: MediaTransport) =>
      Effect.forEach(running, (r) =>
        r.transport === winner
          ? Effect.void
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                // Say so in the report: a loser still dialling did not fail, it was too slow.
                if (r.outcome === undefined) r.outcome = { ok: false, at: now, detail: `closed: ${winner} connected first` }
              }),
            ).pipe(Effect.zipRight(Fiber.interrupt(r.fiber)), Effect.zipRight(Effect.sync(() => r.outcome?.socket?.close()))),
      )

    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const decision = decide(
        candidates,
        running.map((r) => ({
          transport: r.transport,
          startedAt: r.startedAt,
          ...(r.outcome !== undefined ? { outcome: { ok: r.outcome.ok, at: r.outcome.at } } : {}),
        })),
        now,
        options,
      )
      switch (decision._tag) {
        case "Start":
          yield* start(decision.transport)
          break
        case "Wait":
          yield* decision.until === undefined
            ? Queue.take(outcomes)
            : Queue.take(outcomes).pipe(Effect.timeout(Math.max(0, decision.until - now)), Effect.option)
          break
        case "Chosen": {
          yield* closeLosers(decision.transport)
          return running.find((r) => r.transport === decision.transport)!.outcome!.socket!
        }
        case "Failed":
          return yield* new KindUnreachable({
            kind,
            tried: running.map((r) => `${r.transport}: ${r.outcome?.detail ?? "?"}`),
          })
      }
    }
  }).pipe(Effect.annotateLogs("media", kind))
