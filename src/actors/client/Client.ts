/**
 * The client: the connection process, and the session it opens.
 *
 *   1. lookup          HTTPS join-info from the web lookup (through the proxy, if any)
 *   2. zone selection  probe every listed zone's controllers at once; choose the
 *                      best zone that answered; none within 5.5 s → ZonesUnreachable
 *   3. MMR selection   Assign in the chosen zone (then the next best), then Join
 *                      that MMR with the join token
 *   4. media           one connection per media kind: UDP, else TCP, else TLS
 *                      (sequential or raced), each bound with a media token and
 *                      marked with its kind's DSCP; TLS alone behind a proxy
 *
 * Every phase is recorded in the join report, which every outcome carries.
 * Closing the session's scope leaves the meeting.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Either, ExecutionStrategy, Exit, Fiber, Option, PubSub, Queue, Schedule, Schema, Scope, Stream } from "effect"
import { Assign } from "../../protocol/controller.js"
import type { AskError } from "../../protocol/errors.js"
import type { JoinReport } from "../../protocol/join-report.js"
import type { Joined, Participant } from "../../protocol/mmr.js"
import { Join, Leave, Roster, RosterEvent } from "../../protocol/mmr.js"
import type { MediaKind, MediaTransport, Ssrcs } from "../../protocol/media.js"
import { defaultDscp, mediaKinds } from "../../protocol/media.js"
import type { Placement } from "../../protocol/meeting.js"
import type { JoinInfo, ZoneInfo } from "../../protocol/web-api.js"
import { ask } from "../../runtime/Ask.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import { withCorrelationId } from "../../runtime/Correlation.js"
import type { ConnectOptions } from "../../transports/connector.js"
import type { MediaSocket } from "../../transports/media/client.js"
import type { ProxyTarget } from "../../transports/proxy.js"
import * as TunnelClient from "../../transports/tunnel/client.js"
import { BusConnector } from "../../transports/connector.js"
import { randomBytes } from "node:crypto"
import { AccessDenied, LookupFailed, MediaUnreachable, MeetingNotFound, NoMmrAvailable, UseWebClient, ZonesUnreachable } from "./errors.js"
import type { JoinError } from "./errors.js"
import * as Fallback from "./fallback.js"
import * as Lookup from "./lookup.js"
import * as MediaConnect from "./media-connect.js"
import * as MediaSession from "./media-session.js"
import type { TlsTrust } from "./lookup.js"
import * as Proxy from "./proxy.js"
import * as Report from "./report.js"
import * as Synthetic from "./synthetic-media.js"
import * as TunnelSelect from "./tunnel-select.js"
import * as TransportDecision from "./transport-decision.js"
import type { Strategy } from "./transport-decision.js"
import type { PhaseRecorder } from "./report.js"
import * as ZoneProbe from "./zone-probe.js"
import * as Selection from "./zone-selection.js"

/** @category models */
export interface JoinOptions {
  /** The web lookup's base URL. */
  readonly web: string
  readonly meeting: string
  readonly name?: string
  readonly passcode?: string
  readonly tls?: TlsTrust
  /** A proxy URL, or "none"; undefined reads HTTPS_PROXY / NO_PROXY from `env`. */
  readonly proxy?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly zoneSelection?: Partial<Selection.SelectionOptions>
  /** Default 10 s. */
  readonly lookupTimeout?: Duration.DurationInput
  /** Tell the web lookup how the join went (for its operators' metrics and dashboard). Default true. */
  readonly reportToWeb?: boolean
  /** Per Assign or Join attempt. Default 2 s. */
  readonly requestTimeout?: Duration.DurationInput
  /** Media to connect; without it the join ends at the MMR. */
  readonly media?: MediaOptions
  /** How long tunnels get to answer a ping. Default 3 s. */
  readonly tunnelTimeoutMs?: number
}

/** @category models */
export interface MediaOptions {
  /** Kinds to open a connection for (each both sends and receives). */
  readonly kinds: ReadonlyArray<MediaKind>
  /** Send synthetic media on every connected kind without a source. Default true. */
  readonly synthetic?: boolean
  /**
   * The team's own media, per kind: RTP packets to send, given the SSRC the
   * session declared for that kind (the MMR refuses any other). Sent from the
   * moment the kind connects until the stream ends.
   */
  readonly sources?: Partial<Record<MediaKind, (ssrc: number) => Stream.Stream<Uint8Array>>>
  readonly strategy?: Strategy
  /** Only these transports, in this order (default UDP, TCP, TLS; TLS alone behind a proxy). */
  readonly transports?: ReadonlyArray<MediaTransport>
  readonly staggerMs?: number
  readonly attemptTimeoutMs?: number
  readonly dscp?: Partial<Record<MediaKind, number>>
  readonly keepaliveMs?: number
  readonly silenceMs?: number
}

/** @category models */
export interface JoinSession {
  /** How the join went: phases, attempts, what was chosen. */
  readonly report: JoinReport
  /** What the web lookup said (zones, tunnels, the join token). */
  readonly info: JoinInfo
  /** The MMR's answer to the join (roster, media endpoints). */
  readonly joined: Joined
  /** Where the session joined; after a move, `finalReport` and `events` tell where it is now. */
  readonly zone: string
  readonly mmr: string
  /** The control bus the session talks to its MMR over. */
  readonly bus: ControlBusShape
  /** The media connections, when media was asked for. */
  readonly media: MediaSession.MediaSession | undefined
  /** The report with each media kind's figures as they stand now. */
  readonly finalReport: Effect.Effect<JoinReport>
  /** The SSRC this session sends each kind with. */
  readonly ssrcs: Readonly<Record<MediaKind, number>>
  /**
   * What happens to the session from the moment this Stream is run: others
   * joining and leaving, and moves to another MMR (when its MMR stops).
   */
  readonly events: Stream.Stream<SessionEvent>
}

/** Something that happened to a joined session. @category models */
export type SessionEvent =
  | { readonly _tag: "ParticipantJoined"; readonly participant: Participant }
  | { readonly _tag: "ParticipantLeft"; readonly participant: Participant }
  | { readonly _tag: "Moved"; readonly from: string; readonly to: string; readonly ms: number }
  | { readonly _tag: "MoveFailed"; readonly from: string; readonly detail: string }

const msOf = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))

// --- phase 3: MMR selection ------------------------------------------------------

class MmrProblem {
  readonly _tag = "MmrProblem"
  constructor(
    readonly kind: "denied" | "unavailable",
    readonly detail: string,
  ) {}
}

const transient = Schedule.recurs(1).pipe(Schedule.addDelay(() => "50 millis"))

const selectMmr = (
  zones: ReadonlyArray<ZoneInfo>,
  busOf: (zone: ZoneInfo) => ControlBusShape | undefined,
  meeting: string,
  token: string,
  ssrcs: Ssrcs,
  timeout: Duration.DurationInput,
  phase: PhaseRecorder,
  /** An MMR not to join (it is leaving): a placement still naming it is a problem, not an answer. */
  avoid?: string,
): Effect.Effect<{ readonly placement: Placement; readonly joined: Joined; readonly bus: ControlBusShape }, MmrProblem> =>
  Effect.gen(function* () {
    let lastProblem = "no zone answered"
    for (const zone of zones.slice(0, 3)) {
      const bus = busOf(zone)!
      const onBus = <A, E>(effect: Effect.Effect<A, E, ControlBus>) => Effect.provideService(effect, ControlBus, bus)
      // A placement can move under us (its MMR died); one more Assign settles it.
      for (let turn = 0; turn < 2; turn++) {
        const placement = yield* phase
          .attempt(zone.assignSubject, `assign in ${zone.id}`, onBus(ask(zone.assignSubject, new Assign({ meeting, token }), { timeout, retry: transient })))
          .pipe(Effect.either)
        if (Either.isLeft(placement)) {
          const e = placement.left
          if (e._tag === "InvalidToken") return yield* Effect.fail(new MmrProblem("denied", e.message))
          lastProblem = `${zone.id}: ${e.message}`
          break
        }
        const { subject, mmr } = placement.right
        if (mmr === avoid) {
          lastProblem = `${zone.id}: the meeting is still placed on ${mmr}, which is leaving`
          break
        }
        const joined = yield* phase
          .attempt(mmr, `join ${mmr}`, onBus(ask(subject, new Join({ token, ssrcs }), { timeout, retry: transient })))
          .pipe(Effect.either)
        if (Either.isRight(joined)) return { placement: placement.right, joined: joined.right, bus }
        const e: AskError | { _tag: string; message: string } = joined.left
        if (e._tag === "InvalidToken") return yield* Effect.fail(new MmrProblem("denied", e.message))
        lastProblem = `${mmr}: ${e.message}`
        if (e._tag !== "NotHostedHere") break
      }
    }
    return yield* Effect.fail(new MmrProblem("unavailable", lastProblem))
  })

// --- the connection process ---------------------------------------------------------

/** The MMR a session is on, and the bus that reaches it; changes when the session moves. */
interface OnMmr {
  placement: Placement
  joined: Joined
  bus: ControlBusShape
}

/** Where a path got to: the MMR that took us, and our media. */
interface Connected {
  readonly current: OnMmr
  readonly media: MediaSession.MediaSession | undefined
  /** Joins the meeting on another MMR than `current` (which is leaving) and moves media there. */
  readonly move: (recorder: Report.Recorder) => Effect.Effect<void, PathFailure, Scope.Scope>
  /** Calls `handler` with each event of the meeting (joins, leaves, an MMR leaving), while the scope lasts. */
  readonly listen: (subject: string, handler: (data: Uint8Array) => void) => Effect.Effect<void, never, Scope.Scope>
}

/** Why a path ended without a connection: for the fallback, and for the caller. */
interface PathFailure {
  readonly ending: Fallback.Ending
  readonly reason: string
  readonly error: (report: JoinReport) => JoinError
}

/** Opens one kind's media connection, recording its attempts in `phase`. */
type MediaDialer = (kind: MediaKind, target: MediaConnect.MediaTarget, phase: PhaseRecorder) => Effect.Effect<MediaSocket, MediaConnect.MediaUnreachable>

interface JoinContext {
  readonly options: JoinOptions
  readonly info: JoinInfo
  readonly recorder: Report.Recorder
  readonly ssrcs: Readonly<Record<MediaKind, number>>
  readonly proxyTarget: ProxyTarget | undefined
}

/** Phases 3 and 4 over `busOf`'s control and `dial`'s media; shared by the direct and tunnel paths. */
const joinMmr = (
  ctx: JoinContext,
  zones: ReadonlyArray<ZoneInfo>,
  busOf: (zone: ZoneInfo) => ControlBusShape | undefined,
  dial: MediaDialer,
  listen: Connected["listen"],
): Effect.Effect<Connected, PathFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const { options, info, recorder, ssrcs } = ctx
    const timeout = options.requestTimeout ?? "2 seconds"
    const placeAndJoin = (recorder: Report.Recorder, ordered: ReadonlyArray<ZoneInfo>, avoid?: string) =>
      recorder.phase(
        "mmr-selection",
        (phase) => selectMmr(ordered, busOf, options.meeting, info.joinToken, ssrcs, timeout, phase, avoid),
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
        : { ending: "no-mmr", reason: e.detail, error: (report) => new NoMmrAvailable({ detail: e.detail, report }) }
    const selected = yield* placeAndJoin(recorder, zones).pipe(Effect.mapError(toFailure))
    const current: OnMmr = { ...selected }
    const leave = (on: OnMmr) =>
      ask(on.placement.subject, new Leave({ meeting: options.meeting, participant: info.participant.id }), {
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
        move: (r: Report.Recorder) =>
          Effect.gen(function* () {
            const next = yield* placeAndJoin(r, zonesFrom(current.placement.zone), current.placement.mmr).pipe(Effect.mapError(toFailure))
            const old = { ...current }
            Object.assign(current, next)
            yield* leave(old)
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
    const media = yield* MediaSession.start(connections, {
      ...(m.keepaliveMs !== undefined ? { keepaliveMs: m.keepaliveMs } : {}),
      ...(m.silenceMs !== undefined ? { silenceMs: m.silenceMs } : {}),
    })
    for (const c of connections) {
      const source = m.sources?.[c.kind]
      if (source !== undefined) yield* Effect.forkScoped(media.sendAll(c.kind, source(ssrcs[c.kind])))
      else if (m.synthetic !== false) {
        yield* Effect.forkScoped(Synthetic.run(c.kind, ssrcs[c.kind], (p) => media.send(c.kind, p), media.sentCounters[c.kind]))
      }
    }
    const move = (r: Report.Recorder) =>
      Effect.gen(function* () {
        const next = yield* placeAndJoin(r, zonesFrom(current.placement.zone), current.placement.mmr).pipe(Effect.mapError(toFailure))
        const moved = yield* connectMedia(r, next.joined).pipe(Effect.tapError(() => leave(next)))
        media.replace(moved)
        const old = { ...current }
        Object.assign(current, next)
        yield* leave(old)
      })
    return { current, media, move, listen } satisfies Connected
  })

/** The direct path: NATS (or the relay), probes, MMR, media straight to it. */
const directPath = (ctx: JoinContext, connector: typeof BusConnector.Service): Effect.Effect<Connected, PathFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const { options, info, recorder } = ctx
    const selectionOptions = { ...Selection.defaults, ...options.zoneSelection }
    const choice = yield* recorder
      .phase(
        "zone-selection",
        (phase) =>
          Effect.gen(function* () {
            const buses = yield* connectZones(
              connector,
              info,
              {
                name: "meetzone-client",
                timeoutMs: selectionOptions.deadlineMs,
                ...(options.tls !== undefined ? { tls: options.tls } : {}),
                ...(ctx.proxyTarget !== undefined ? { proxy: ctx.proxyTarget } : {}),
              },
              phase,
            )
            const chosen = yield* ZoneProbe.selectZone(info.zones, (z) => buses.get(z.id), selectionOptions, info.participant.id, phase)
            return { ...chosen, buses }
          }),
        (c) => ({ chosen: c.zone.id, zones: c.scores }),
      )
      .pipe(
        Effect.mapError(
          (e): PathFailure => ({
            ending: "zones-unreachable",
            reason: `no zone controller answered within ${Math.round(e.elapsedMs)} ms`,
            error: (report) => new ZonesUnreachable({ zones: e.scores, elapsedMs: e.elapsedMs, report }),
          }),
        ),
      )
    const m = options.media
    const transportOptions = {
      strategy: m?.strategy ?? TransportDecision.defaults.strategy,
      staggerMs: m?.staggerMs ?? TransportDecision.defaults.staggerMs,
      attemptTimeoutMs: m?.attemptTimeoutMs ?? TransportDecision.defaults.attemptTimeoutMs,
    }
    const allowed = TransportDecision.candidates(ctx.proxyTarget !== undefined)
    const candidates = m?.transports === undefined ? allowed : m.transports.filter((t) => allowed.includes(t))
    const dscp = { ...defaultDscp, ...m?.dscp }
    // Meeting events come over each distinct bus (usually one); a bus that cannot subscribe (the relay) gives none.
    const listen: Connected["listen"] = (subject, handler) =>
      Effect.forEach(
        new Set(choice.buses.values()),
        (bus) => bus.subscribe(subject, {}, (message) => handler(message.data)).pipe(Effect.ignore),
        { discard: true },
      )
    return yield* joinMmr(ctx, choice.answered, (z) => choice.buses.get(z.id), (kind, target, phase) =>
      MediaConnect.connectKind(
        kind,
        candidates,
        target,
        { ...transportOptions, dscp: dscp[kind], tls: options.tls ?? {}, proxy: ctx.proxyTarget },
        phase,
      ), listen,
    )
  })

/** The tunnel path: the first tunnel to answer carries control and media. */
const tunnelPath = (ctx: JoinContext): Effect.Effect<Connected, PathFailure, Scope.Scope> =>
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
        .pipe(Effect.mapError((e) => new MediaConnect.MediaUnreachable({ kind, tried: [e.message] }))),
      (subject, handler) => Effect.sync(() => tunnel.onEvent((s, data) => s === subject && handler(data))),
    ).pipe(Effect.mapError((f) => (f.ending === "rejected" ? f : tunnelFailed(f.reason))))
  })

/**
 * Joins a meeting: direct if it can, else through the tunnel, else the
 * answer is the web client. The session lasts as long as the scope.
 *
 * @category joining
 */
export const join = (options: JoinOptions): Effect.Effect<JoinSession, JoinError, BusConnector | Scope.Scope> =>
  Effect.gen(function* () {
    const connector = yield* BusConnector
    const recorder = yield* Report.make(options.meeting)
    const web = new URL(options.web)
    const proxy = Proxy.detect(web, options.proxy, options.env ?? process.env)
    if (Option.isSome(proxy)) recorder.set({ proxy: proxy.value.url })
    const http = yield* Lookup.dispatcher(options.tls ?? {}, proxy)
    /** Best effort: operators learn how the join went; the join never waits on it for long. */
    const tellWeb = (report: JoinReport, outcome: string) =>
      options.reportToWeb === false
        ? Effect.void
        : Lookup.reportJoin(http, web, Lookup.summarize(report, outcome), 2000).pipe(
            Effect.tapError((e) => Effect.logDebug(`join report not delivered: ${e.message}`)),
            Effect.ignore,
          )
    const fail = <E extends { readonly _tag: string }>(make: (report: JoinReport) => E) =>
      Effect.flatMap(recorder.report, (r) => {
        const error = make(r)
        return Effect.zipRight(tellWeb(r, error._tag), Effect.fail(error))
      })

    // 1. lookup
    const lookup = yield* recorder
      .phase(
        "lookup",
        (phase) =>
          phase.attempt(
            web.origin,
            Option.isSome(proxy) ? `GET join-info via ${proxy.value.url}` : "GET join-info",
            Lookup.joinInfo(http, web, options.meeting, {
              ...(options.name !== undefined ? { name: options.name } : {}),
              ...(options.passcode !== undefined ? { passcode: options.passcode } : {}),
              timeoutMs: msOf(options.lookupTimeout ?? "10 seconds"),
            }),
          ),
        (info) => ({ chosen: `${info.zones.length} zones, ${info.tunnels.length} tunnels, participant ${info.participant.id}` }),
      )
      .pipe(Effect.either)
    if (Either.isLeft(lookup)) {
      const problem = lookup.left
      return yield* fail((report) =>
        problem.kind === "not-found"
          ? new MeetingNotFound({ meeting: options.meeting, report })
          : problem.kind === "access-denied"
            ? new AccessDenied({ meeting: options.meeting, code: problem.code ?? "Forbidden", detail: problem.detail, report })
            : new LookupFailed({ url: web.origin, detail: problem.detail, report }),
      )
    }
    const info = lookup.right
    recorder.set({ participant: info.participant.id })
    const ctx: JoinContext = {
      options,
      info,
      recorder,
      ssrcs: {
        audio: randomBytes(4).readUInt32BE(0),
        video: randomBytes(4).readUInt32BE(0),
        content: randomBytes(4).readUInt32BE(0),
      },
      proxyTarget: Option.getOrUndefined(Option.map(proxy, (p) => ({ url: p.url, authorization: p.authorization }))),
    }

    return yield* Effect.gen(function* () {
      // 2–4, direct; then the last resorts.
      const scope = yield* Effect.scope
      const reasons: Record<string, string> = {}
      let path: Fallback.Path = "direct"
      for (;;) {
        const attempt = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const outcome = yield* (path === "direct" ? directPath(ctx, connector) : tunnelPath(ctx)).pipe(
          Scope.extend(attempt),
          Effect.either,
        )
        if (Either.isRight(outcome)) {
          recorder.set({ path: path === "tunnel" ? "tunnel" : Option.isSome(proxy) ? "proxy" : "direct" })
          const joined = yield* session(ctx, outcome.right)
          const told = yield* Effect.forkScoped(tellWeb(joined.report, "ok"))
          // Ending the session right away still lets the report out (bounded).
          yield* Effect.addFinalizer(() => Fiber.await(told).pipe(Effect.timeout("1 second"), Effect.interruptible, Effect.ignore))
          return joined
        }
        yield* Scope.close(attempt, Exit.void) // what this path opened, it closes
        const failure = outcome.left
        reasons[path] = failure.reason
        const next = Fallback.next(path, failure.ending, info.tunnels.length > 0)
        if (next === "done") return yield* fail(failure.error)
        if (next === "web-client") {
          if (path === "direct") reasons["tunnel"] = "the lookup listed no tunnel"
          recorder.set({ path: "web-client", webClient: { url: info.webClientUrl, reasons: { ...reasons } } })
          yield* recorder.skipPhase("media", "no path reached the meeting: use the web client")
          return yield* fail((report) => new UseWebClient({ url: info.webClientUrl, reasons: { ...reasons }, report }))
        }
        path = next
      }
    }).pipe(withCorrelationId(`join-${info.participant.id}`), Effect.annotateLogs("participant", info.participant.id))
  }).pipe(Effect.withSpan("join", { attributes: { "meetzone.meeting": options.meeting } }), Effect.annotateLogs("meeting", options.meeting))

const decodeRosterEvent = Schema.decodeUnknownOption(Schema.parseJson(RosterEvent))

/**
 * The session a connected path hands back. It follows the meeting's events:
 * when its MMR says it is leaving, the session joins the meeting again on
 * another MMR and moves its media there (each move is in the final report).
 */
const session = (ctx: JoinContext, connected: Connected) =>
  Effect.gen(function* () {
    const { current, media } = connected
    // The join ends here: its report's total is the join time, whatever media does later.
    const report = yield* ctx.recorder.report
    const joinedAt = report.totalMs
    const started = performance.now() - joinedAt
    const moves: Array<NonNullable<JoinReport["moves"]>[number]> = []
    const events = yield* PubSub.sliding<SessionEvent>(256)
    // A sliding PubSub never suspends a publisher: safe from a socket callback.
    const emit = (event: SessionEvent) => void Effect.runSync(PubSub.publish(events, event))
    const subject = ctx.info.meetingEvents
    if (subject !== undefined) {
      const leaving = yield* Queue.sliding<string>(16)
      // Who is in the meeting as far as this session knows (itself left out).
      let known = new Map(current.joined.roster.filter((p) => p.id !== ctx.info.participant.id).map((p) => [p.id, p]))
      const rosterChanged = (roster: ReadonlyArray<Participant>) => {
        const now = new Map(roster.filter((p) => p.id !== ctx.info.participant.id).map((p) => [p.id, p]))
        for (const [id, p] of now) if (!known.has(id)) emit({ _tag: "ParticipantJoined", participant: p })
        for (const [id, p] of known) if (!now.has(id)) emit({ _tag: "ParticipantLeft", participant: p })
        known = now
      }
      yield* connected.listen(subject, (data) => {
        const event = decodeRosterEvent(new TextDecoder().decode(data))
        if (Option.isNone(event)) return
        if (event.value.leaving === true) Queue.unsafeOffer(leaving, event.value.mmr)
        // Rosters from the MMR the session is on; during a move, the one it is moving to will follow.
        else if (event.value.mmr === current.placement.mmr) rosterChanged(event.value.roster)
      })
      const moveOnce = (from: string) =>
        Effect.gen(function* () {
          const at = performance.now() - started
          const recorder = yield* Report.make(ctx.options.meeting)
          const outcome = yield* connected.move(recorder).pipe(
            // The controllers may not have heard yet that the MMR is leaving: ask again shortly.
            Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.intersect(Schedule.recurs(15)))),
            Effect.either,
          )
          const ms = Math.round((performance.now() - started - at) * 100) / 100
          if (Either.isRight(outcome)) {
            moves.push({ from, to: current.placement.mmr, atMs: Math.round(at), ms, outcome: "ok" })
            emit({ _tag: "Moved", from, to: current.placement.mmr, ms })
            yield* Effect.logInfo(`moved from ${from} to ${current.placement.mmr} in ${ms} ms`)
          } else {
            moves.push({ from, atMs: Math.round(at), ms, outcome: "failed", detail: outcome.left.reason })
            emit({ _tag: "MoveFailed", from, detail: outcome.left.reason })
            yield* Effect.logWarning(`could not move from ${from}: ${outcome.left.reason}`)
          }
        })
      yield* Queue.take(leaving).pipe(
        Effect.flatMap((mmr) => (mmr === current.placement.mmr ? moveOnce(mmr) : Effect.void)),
        Effect.forever,
        Effect.forkScoped,
      )
    }
    const finalReport = Effect.gen(function* () {
      const now = { ...report, zone: current.placement.zone, mmr: current.placement.mmr, ...(moves.length > 0 ? { moves: [...moves] } : {}) }
      if (media === undefined) return now
      const roster = yield* ask(current.placement.subject, new Roster({ meeting: ctx.options.meeting }), { timeout: "1 second" }).pipe(
        Effect.provideService(ControlBus, current.bus),
        Effect.orElseSucceed(() => []),
      )
      const bySsrc = new Map<number, string>()
      for (const p of roster) for (const kind of mediaKinds) if (p.ssrcs?.[kind] !== undefined) bySsrc.set(p.ssrcs[kind]! >>> 0, p.name)
      return { ...now, media: media.report((ssrc) => bySsrc.get(ssrc)) }
    })
    return {
      report,
      info: ctx.info,
      joined: current.joined,
      zone: current.placement.zone,
      mmr: current.placement.mmr,
      bus: current.bus,
      media,
      finalReport,
      ssrcs: ctx.ssrcs,
      events: Stream.fromPubSub(events),
    } satisfies JoinSession
  })

/** One bus per distinct endpoint set; a zone whose connect fails has none (its probes are not sent). */
const connectZones = (
  connector: typeof BusConnector.Service,
  info: JoinInfo,
  options: ConnectOptions,
  phase: PhaseRecorder,
) =>
  Effect.gen(function* () {
    const byEndpoints = new Map<string, Array<ZoneInfo>>()
    for (const z of info.zones) {
      const key = [...z.nats].sort().join(",")
      byEndpoints.set(key, [...(byEndpoints.get(key) ?? []), z])
    }
    const buses = new Map<string, ControlBusShape>()
    yield* Effect.forEach(
      byEndpoints,
      ([key, group]) =>
        phase
          .attempt(
            options.proxy !== undefined ? `${info.relay} via ${options.proxy.url}` : key === "" ? "in-process" : key,
            "connect",
            connector.connect({ nats: group[0]!.nats, relay: info.relay }, options),
          )
          .pipe(
            Effect.tap((c) =>
              Effect.map(phase.at, (at) =>
                phase.record({ target: c.via, action: `control via ${c.kind}`, startMs: Math.round(at * 100) / 100, ms: 0, outcome: "ok" }),
              ),
            ),
            Effect.map((c) => group.forEach((z) => buses.set(z.id, c.bus))),
            Effect.ignore,
          ),
      { concurrency: "unbounded", discard: true },
    )
    return buses
  })
