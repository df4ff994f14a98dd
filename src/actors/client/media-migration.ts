/**
 * Moving one media kind to another transport during a meeting, and back
 * (migration-policy.ts decides; this watches and acts). Only that kind
 * moves; there is no re-join.
 *
 *   every intervalMs  the kind's loss over the interval, the worse of the two directions:
 *                       out  1 − Δ(what the MMR received from us) / Δ(what we sent)   (MediaStats)
 *                       in   Δlost / Δexpected of what arrived on it                  (RTP sequence numbers)
 *   off UDP           a STUN check to the MMR's UDP port every probeSpacingMs, marked as the kind is;
 *                     when due, the loss among the checks since the last look is a probe
 *   Leave             fresh media tokens (MediaTokens), the kind dialled over TCP, else TLS, swapped in
 *   Return            fresh tokens, the kind dialled over UDP, swapped in (still bad: it stays where it is)
 *
 * @since 0.3.0
 */
import type { Scope } from "effect"
import { Effect, Schedule } from "effect"
import type { MediaKind, MediaTransport } from "../../protocol/media.js"
import { MediaStats, MediaTokens } from "../../protocol/mmr.js"
import type { KindCounters } from "../../protocol/mmr.js"
import { ask } from "../../runtime/Ask.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { MediaSocket } from "../../transports/media/client.js"
import * as Probe from "../../transports/media/probe.js"
import type { MediaTarget } from "./media-connect.js"
import type * as MediaSession from "./media-session.js"
import * as Policy from "./migration-policy.js"
import type { OnMmr } from "./path.js"

/** @category models */
export interface MigrationOptions extends Partial<Policy.PolicyOptions> {
  /** Between loss reports. Default 1000 ms. */
  readonly intervalMs?: number
  /** Between UDP checks while off UDP. Default 100 ms. */
  readonly probeSpacingMs?: number
}

/** @category models */
export interface MigrationDeps {
  readonly meeting: string
  readonly participant: string
  readonly token: string
  readonly session: string
  readonly media: MediaSession.MediaSession
  /** The MMR the session is on (it changes when the session moves). */
  readonly current: OnMmr
  readonly dscp: Readonly<Record<MediaKind, number>>
  /** Opens `kind` over the first of `transports` that connects. */
  readonly dial: (kind: MediaKind, transports: ReadonlyArray<MediaTransport>, target: MediaTarget) => Effect.Effect<MediaSocket, { readonly message: string }>
  /** Ms since the join began, for the report. */
  readonly sinceJoin: () => number
}

const ratio = (lost: number, of: number) => (of <= 0 ? undefined : Math.min(1, Math.max(0, lost / of)))

/**
 * Watches every kind for the life of the scope.
 *
 * @category constructors
 */
export const start = (deps: MigrationDeps, options: MigrationOptions = {}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const policy: Policy.PolicyOptions = { ...Policy.defaults, ...options }
    const { media, current } = deps
    const onBus = <A, E>(effect: Effect.Effect<A, E, ControlBus>) => Effect.provideService(effect, ControlBus, current.bus)
    interface Watch {
      state: Policy.PolicyState
      transport: string | undefined
      mmr: string
      last?: { sent: number; expected: number; lost: number; mmrIn: number }
      /** Off UDP: the UDP path under watch, and where to. */
      probe?: { readonly to: string; readonly watch: Probe.UdpWatch }
    }
    const watches = new Map<MediaKind, Watch>()
    const stopProbe = (w: Watch) => {
      w.probe?.watch.close()
      delete w.probe
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => watches.forEach(stopProbe)))
    for (const kind of media.kinds) {
      const transport = media.transportOf(kind)
      watches.set(kind, { state: Policy.initial(policy, performance.now(), transport === "udp"), transport, mmr: current.placement.mmr })
    }

    const move = (kind: MediaKind, to: ReadonlyArray<MediaTransport>, why: string) =>
      Effect.gen(function* () {
        const from = media.transportOf(kind)
        const tokens = yield* onBus(ask(current.placement.subject, new MediaTokens({ meeting: deps.meeting, token: deps.token, session: deps.session }), { timeout: "2 seconds" }))
        const endpoints = current.joined.media!
        const socket = yield* deps.dial(kind, to, { host: endpoints.host, port: endpoints.port, tlsPort: endpoints.tlsPort, tokens: tokens[kind] })
        media.replace([{ kind, socket, dscp: deps.dscp[kind] }])
        const change = { atMs: Math.round(deps.sinceJoin()), from: from as MediaTransport, to: socket.transport as MediaTransport, why }
        media.noteChange(kind, change)
        yield* Effect.logInfo(`${kind}: ${change.from} → ${change.to} (${why})`)
        return socket.transport
      })

    const tick = Effect.gen(function* () {
      // What we sent, read before asking what the MMR received: a slow answer must not count as loss.
      const sentBefore = new Map(media.kinds.map((kind) => [kind, media.totals(kind).sent]))
      const counters: Record<MediaKind, KindCounters> | undefined = yield* onBus(
        ask(current.placement.subject, new MediaStats({ meeting: deps.meeting, participant: deps.participant, token: deps.token }), { timeout: "1 second" }),
      ).pipe(Effect.orElseSucceed(() => undefined))
      const at = performance.now()
      for (const [kind, w] of watches) {
        const transport = media.transportOf(kind)
        // Moved to another MMR (all kinds re-dialled), or changed here: start over from where it is.
        if (transport !== w.transport || w.mmr !== current.placement.mmr) {
          Object.assign(w, { state: Policy.initial(policy, at, transport === "udp"), transport, mmr: current.placement.mmr, last: undefined })
        }
        if (transport === undefined || transport === "tunnel") continue
        const totals = { ...media.totals(kind), sent: sentBefore.get(kind) ?? 0 }
        const mmrIn = counters?.[kind]?.packetsIn
        if (mmrIn !== undefined) {
          const prev = w.last
          w.last = { ...totals, mmrIn }
          if (prev !== undefined) {
            const out = ratio(totals.sent - prev.sent - (mmrIn - prev.mmrIn), totals.sent - prev.sent)
            const back = ratio(totals.lost - prev.lost, totals.expected - prev.expected)
            if (out !== undefined || back !== undefined) {
              yield* Effect.logDebug(`${kind} on ${transport}: lost ${Math.round((out ?? 0) * 100)} % out, ${Math.round((back ?? 0) * 100)} % in`)
              const step = Policy.step(policy, w.state, { _tag: "Report", at, loss: Math.max(out ?? 0, back ?? 0) })
              w.state = step.state
              if (step.decision._tag === "Leave") {
                const why = step.decision.why
                const moved = yield* move(kind, ["tcp", "tls"], why).pipe(
                  Effect.tapError((e) => Effect.logWarning(`${kind}: could not leave UDP: ${e.message}`)),
                  Effect.option,
                )
                // Nowhere to go: it stays on UDP, counted as just left so that it does not try every second.
                w.transport = moved._tag === "Some" ? moved.value : transport
              }
            }
          }
        }
        const endpoints = current.joined.media
        if (w.state.onUdp || endpoints === undefined) {
          stopProbe(w)
          continue
        }
        const to = `${endpoints.host}:${endpoints.port}`
        if (w.probe?.to !== to) {
          stopProbe(w)
          w.probe = { to, watch: Probe.udpWatch(endpoints.host, endpoints.port, options.probeSpacingMs ?? 100, 500, deps.dscp[kind]) }
        }
        if (Policy.probeDue(policy, w.state, at)) {
          const loss = w.probe.watch.take()
          if (loss === undefined) continue
          yield* Effect.logDebug(`${kind} off UDP: lost ${Math.round(loss * 100)} % of UDP checks`)
          const step = Policy.step(policy, w.state, { _tag: "Probe", at: performance.now(), loss })
          w.state = step.state
          if (step.decision._tag === "Return") {
            const moved = yield* move(kind, ["udp"], step.decision.why).pipe(
              Effect.tapError((e) => Effect.logWarning(`${kind}: could not return to UDP: ${e.message}`)),
              Effect.option,
            )
            if (moved._tag === "Some") {
              w.transport = moved.value
              stopProbe(w)
            }
            // UDP probes answered but a UDP connection did not bind: back to waiting, off UDP.
            else w.state = { ...w.state, onUdp: false, changedAt: performance.now() }
          }
        }
      }
    })
    yield* tick.pipe(Effect.repeat(Schedule.spaced(options.intervalMs ?? 1000)), Effect.forkScoped)
  })
