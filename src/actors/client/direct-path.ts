/**
 * The direct path: connect to each zone's NATS (or the relay behind a
 * proxy), probe every zone's controllers and choose a zone (phase 2), then
 * phases 3 and 4 with media straight to the MMR, UDP → TCP → TLS; during the
 * meeting a kind whose UDP path turns lossy moves to TCP (else TLS) and back.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { Scope } from "effect"
import type { MediaKind, MediaTransport } from "../../protocol/media.js"
import { defaultDscp } from "../../protocol/media.js"
import type { JoinInfo, ZoneInfo } from "../../protocol/web-api.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import type { BusConnector, ConnectOptions } from "../../transports/connector.js"
import { ZonesUnreachable } from "./errors.js"
import * as MediaConnect from "./media-connect.js"
import * as MediaMigration from "./media-migration.js"
import * as NetworkWatch from "./network-watch.js"
import type { Connected, JoinContext, PathFailure } from "./path.js"
import { joinMmr } from "./path.js"
import * as Report from "./report.js"
import type { PhaseRecorder } from "./report.js"
import * as TransportDecision from "./transport-decision.js"
import * as ZoneProbe from "./zone-probe.js"
import * as Selection from "./zone-selection.js"

/** The direct path: NATS (or the relay), probes, MMR, media straight to it. */
export const directPath = (ctx: JoinContext, connector: typeof BusConnector.Service): Effect.Effect<Connected, PathFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const { options, info, recorder } = ctx
    const selectionOptions = { ...Selection.defaults, ...options.zoneSelection }
    const choice = yield* recorder
      .phase(
        "zone-selection",
        (phase) =>
          Effect.gen(function* () {
            // One deadline for the whole phase: connecting (NATS, else the relay) spends from it, the probes get what is left.
            const since = yield* Clock.currentTimeMillis
            const buses = yield* connectZones(
              connector,
              info,
              {
                name: "meetzone-client",
                timeoutMs: selectionOptions.deadlineMs,
                token: info.joinToken,
                ...(info.natsCredentials !== undefined ? { credentials: info.natsCredentials } : {}),
                ...(options.tls !== undefined ? { tls: options.tls } : {}),
                ...(ctx.proxyTarget !== undefined ? { proxy: ctx.proxyTarget } : {}),
              },
              phase,
            )
            const chosen = yield* ZoneProbe.selectZone(info.zones, (z) => buses.get(z.id), selectionOptions, info.participant.id, phase, since)
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
    const dialOver = (kind: MediaKind, transports: ReadonlyArray<MediaTransport>, target: MediaConnect.MediaTarget, phase: PhaseRecorder) =>
      MediaConnect.connectKind(kind, transports, target, { ...transportOptions, dscp: dscp[kind], tls: options.tls ?? {}, proxy: ctx.proxyTarget }, phase)
    const connected = yield* joinMmr(ctx, choice.answered, (z) => choice.buses.get(z.id), (kind, target, phase) => dialOver(kind, candidates, target, phase), listen)
    const joinedAt = (yield* recorder.report).totalMs
    const t0 = performance.now()
    const sinceJoin = () => joinedAt + performance.now() - t0
    const dialDuring = (kind: MediaKind, transports: ReadonlyArray<MediaTransport>, target: MediaConnect.MediaTarget) =>
      Effect.flatMap(Report.make(options.meeting), (r) => r.phase("media", (phase) => dialOver(kind, transports.filter((t) => candidates.includes(t)), target, phase)))
    // The network changing under the meeting: media again on the new path, no re-join.
    if (connected.media !== undefined && m?.networkWatch !== false) {
      yield* NetworkWatch.start({
        meeting: options.meeting,
        token: info.joinToken,
        session: ctx.session,
        media: connected.media,
        current: connected.current,
        dscp,
        candidates,
        dial: dialDuring,
        sinceJoin,
      })
    }
    // Somewhere to move to and from: UDP and a stream transport both allowed.
    if (connected.media !== undefined && m?.migration !== false && candidates.includes("udp") && candidates.some((t) => t !== "udp")) {
      yield* MediaMigration.start(
        {
          meeting: options.meeting,
          participant: info.participant.id,
          token: info.joinToken,
          session: ctx.session,
          media: connected.media,
          current: connected.current,
          dscp,
          dial: dialDuring,
          sinceJoin,
        },
        m?.migration ?? {},
      )
    }
    return connected
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

