/**
 * What a path (direct or tunnel) hands the session once it got through: the
 * MMR that took us and our media; and phases 3 and 4, which both paths run
 * over their own control bus and media dialer. A move (the MMR is leaving)
 * runs phases 3 and 4 again against another MMR.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { JoinReport } from "../../protocol/join-report.js"
import type { Joined } from "../../protocol/mmr.js"
import { Leave, Signal } from "../../protocol/mmr.js"
import type { MediaKind } from "../../protocol/media.js"
import { defaultDscp } from "../../protocol/media.js"
import type { Placement } from "../../protocol/meeting.js"
import type * as E2e from "../../protocol/e2e.js"
import type { MediaKeys } from "../../protocol/media-keys.js"
import type { JoinInfo, ZoneInfo } from "../../protocol/web-api.js"
import { ask } from "../../runtime/Ask.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { MediaSocket } from "../../transports/media/client.js"
import type { ProxyTarget } from "../../transports/proxy.js"
import { AccessDenied, MediaUnreachable, NoMmrAvailable } from "./errors.js"
import type { JoinError } from "./errors.js"
import type * as Fallback from "./fallback.js"
import type * as MediaConnect from "./media-connect.js"
import * as Agreement from "./e2e-agreement.js"
import * as MediaCrypto from "./media-crypto.js"
import * as MediaSession from "./media-session.js"
import type { Avoid, MmrProblem } from "./mmr-selection.js"
import { selectMmr } from "./mmr-selection.js"
import type { JoinOptions } from "./options.js"
import type * as Report from "./report.js"
import type { PhaseRecorder } from "./report.js"
import * as Synthetic from "./synthetic-media.js"

/** The MMR a session is on, and the bus that reaches it; changes when the session moves. */
export interface OnMmr {
  placement: Placement
  joined: Joined
  bus: ControlBusShape
}

/** Where a path got to: the MMR that took us, and our media. */
export interface Connected {
  readonly current: OnMmr
  readonly media: MediaSession.MediaSession | undefined
  /** The meeting's media keys, when its media is encrypted. */
  readonly crypto?: MediaCrypto.MediaCrypto
  /** End-to-end: how this participant takes and (as leader) makes the meeting's keys. */
  readonly agreement?: Agreement.Agreement
  /**
   * Joins the meeting on another MMR than `current` (leaving, silent or mute:
   * `evidence` tells the controllers which) and moves media there.
   */
  readonly move: (recorder: Report.Recorder, evidence: Avoid["evidence"]) => Effect.Effect<void, PathFailure, Scope.Scope>
  /** Calls `handler` with each event of the meeting (joins, leaves, an MMR leaving), while the scope lasts. */
  readonly listen: (subject: string, handler: (data: Uint8Array) => void) => Effect.Effect<void, never, Scope.Scope>
}

/** Why a path ended without a connection: for the fallback, and for the caller. */
export interface PathFailure {
  readonly ending: Fallback.Ending
  readonly reason: string
  readonly error: (report: JoinReport) => JoinError
  /** A move the controllers refused: they keep the meeting on its MMR. */
  readonly kept?: boolean
}

/** Opens one kind's media connection, recording its attempts in `phase`. */
export type MediaDialer = (kind: MediaKind, target: MediaConnect.MediaTarget, phase: PhaseRecorder) => Effect.Effect<MediaSocket, MediaConnect.KindUnreachable>

/** What every phase after the lookup needs to know. */
export interface JoinContext {
  readonly options: JoinOptions
  readonly info: JoinInfo
  readonly recorder: Report.Recorder
  readonly ssrcs: Readonly<Record<MediaKind, number>>
  /** This join's session secret: only it can re-join or leave as this participant. */
  readonly session: string
  readonly proxyTarget: ProxyTarget | undefined
  /** Asks the web tier for the meeting's media keys again. */
  readonly refreshKeys?: Effect.Effect<MediaKeys, { readonly detail: string }>
  /** This join's X25519 key pair, in an end-to-end meeting. */
  readonly identity?: E2e.Identity
}

/** Phases 3 and 4 over `busOf`'s control and `dial`'s media; shared by the direct and tunnel paths. */
export const joinMmr = (
  ctx: JoinContext,
  zones: ReadonlyArray<ZoneInfo>,
  busOf: (zone: ZoneInfo) => ControlBusShape | undefined,
  dial: MediaDialer,
  listen: Connected["listen"],
): Effect.Effect<Connected, PathFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const { options, info, recorder, ssrcs } = ctx
    const timeout = options.requestTimeout ?? "2 seconds"
    const placeAndJoin = (recorder: Report.Recorder, ordered: ReadonlyArray<ZoneInfo>, avoid?: Avoid) =>
      recorder.phase(
        "mmr-selection",
        (phase) => selectMmr(ordered, busOf, options.meeting, info.joinToken, ctx.session, { ssrcs, keyShare: ctx.identity?.keyShare }, timeout, phase, avoid),
        (s) => ({ chosen: `${s.placement.mmr} in ${s.placement.zone}` }),
      )
    /** The session's own zone first: a move stays in the zone when it can. */
    const zonesFrom = (zone: string) => [...zones.filter((z) => z.id === zone), ...zones.filter((z) => z.id !== zone)]
    const toFailure = (e: MmrProblem): PathFailure =>
      e.kind === "denied"
        ? {
            ending: "rejected",
            reason: e.detail,
            error: (report) => new AccessDenied({ meeting: options.meeting, code: "InvalidToken", detail: e.detail, report }),
          }
        : {
            ending: "no-mmr",
            reason: e.detail,
            error: (report) => new NoMmrAvailable({ detail: e.detail, report }),
            ...(e.kind === "kept" ? { kept: true } : {}),
          }
    const selected = yield* placeAndJoin(recorder, zones).pipe(Effect.mapError(toFailure))
    const current: OnMmr = { ...selected }
    const leave = (on: OnMmr) =>
      ask(on.placement.subject, new Leave({ meeting: options.meeting, participant: info.participant.id, token: info.joinToken, session: ctx.session }), {
        timeout: "1 second",
      }).pipe(Effect.provideService(ControlBus, on.bus), Effect.ignore)
    recorder.set({ zone: current.placement.zone, mmr: current.placement.mmr })
    // Whichever MMR the session is on when it ends.
    yield* Effect.addFinalizer(() => Effect.suspend(() => leave(current)))

    const m = options.media
    const withoutMedia = (why: string | undefined) =>
      Effect.as(why === undefined ? Effect.void : recorder.skipPhase("media", why), {
        current,
        media: undefined,
        listen,
        move: (r: Report.Recorder, evidence: Avoid["evidence"]) =>
          Effect.gen(function* () {
            const next = yield* placeAndJoin(r, zonesFrom(current.placement.zone), { mmr: current.placement.mmr, evidence }).pipe(Effect.mapError(toFailure))
            const old = { ...current }
            Object.assign(current, next)
            // In the background: the old MMR may be dead or frozen, and the move is done.
            yield* Effect.forkScoped(leave(old))
          }),
      } satisfies Connected)
    if (m === undefined || m.kinds.length === 0) return yield* withoutMedia(undefined)
    if (selected.joined.media === undefined || selected.joined.mediaTokens === undefined) {
      return yield* withoutMedia(`${selected.placement.mmr} has no media plane`)
    }
    const dscp = { ...defaultDscp, ...m.dscp }
    const connectMedia = (recorder: Report.Recorder, joined: Joined) =>
      recorder
        .phase(
          "media",
          (phase) =>
            Effect.forEach(
              m.kinds,
              (kind) =>
                Effect.map(
                  dial(
                    kind,
                    { host: joined.media!.host, port: joined.media!.port, tlsPort: joined.media!.tlsPort, tokens: joined.mediaTokens![kind] },
                    phase,
                  ),
                  (socket): MediaSession.KindConnection => ({ kind, socket, dscp: dscp[kind] }),
                ),
              { concurrency: "unbounded" },
            ),
          (cs) => ({ chosen: cs.map((c) => `${c.kind} ${c.socket.transport}`).join(", ") }),
        )
        .pipe(
          Effect.mapError(
            (e): PathFailure => ({
              ending: "media-unreachable",
              reason: e.message,
              error: (report) => new MediaUnreachable({ detail: e.message, report }),
            }),
          ),
        )
    const connections = yield* connectMedia(recorder, selected.joined)
    const serverKeys = info.media !== undefined && "epochs" in info.media ? info.media : undefined
    const crypto = info.media === undefined ? undefined : MediaCrypto.make(options.meeting, info.participant.id, serverKeys)
    if (crypto !== undefined && serverKeys !== undefined && ctx.refreshKeys !== undefined) yield* MediaCrypto.refresher(crypto, ctx.refreshKeys)
    const agreement =
      crypto === undefined || ctx.identity === undefined
        ? undefined
        : yield* Agreement.start({
            meeting: options.meeting,
            self: info.participant.id,
            identity: ctx.identity,
            ring: crypto,
            ...(m.keyActivationMs !== undefined ? { activateInMs: m.keyActivationMs } : {}),
            // Through whichever MMR the session is on when it sends.
            send: (signal) =>
              Effect.suspend(() =>
                ask(current.placement.subject, new Signal({ meeting: options.meeting, token: info.joinToken, session: ctx.session, signal }), { timeout: "1 second" }).pipe(
                  Effect.provideService(ControlBus, current.bus),
                ),
              ),
          })
    const media = yield* MediaSession.start(connections, {
      ...(crypto !== undefined ? { crypto } : {}),
      ...(m.keepaliveMs !== undefined ? { keepaliveMs: m.keepaliveMs } : {}),
      ...(m.silenceMs !== undefined ? { silenceMs: m.silenceMs } : {}),
      ...(m.consentMs !== undefined ? { consentMs: m.consentMs } : {}),
      rtcp: { ssrcs, cname: info.participant.id, ...(m.rtcpIntervalMs !== undefined ? { intervalMs: m.rtcpIntervalMs } : {}) },
    })
    for (const c of connections) {
      const source = m.sources?.[c.kind]
      if (source !== undefined) yield* Effect.forkScoped(media.sendAll(c.kind, source(ssrcs[c.kind])))
      else if (m.synthetic !== false) {
        yield* Effect.forkScoped(Synthetic.run(c.kind, ssrcs[c.kind], (p) => media.send(c.kind, p), media.sentCounters[c.kind]))
      }
    }
    const move = (r: Report.Recorder, evidence: Avoid["evidence"]) =>
      Effect.gen(function* () {
        const next = yield* placeAndJoin(r, zonesFrom(current.placement.zone), { mmr: current.placement.mmr, evidence }).pipe(Effect.mapError(toFailure))
        const moved = yield* connectMedia(r, next.joined).pipe(Effect.tapError(() => leave(next)))
        media.replace(moved)
        const old = { ...current }
        Object.assign(current, next)
        // In the background: the old MMR may be dead or frozen, and the move is done.
        yield* Effect.forkScoped(leave(old))
      })
    return { current, media, move, listen, ...(crypto !== undefined ? { crypto } : {}), ...(agreement !== undefined ? { agreement } : {}) } satisfies Connected
  })

