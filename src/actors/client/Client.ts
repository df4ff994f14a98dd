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
import { Duration, Effect, Either, ExecutionStrategy, Exit, Fiber, Option, Scope } from "effect"
import type { JoinReport } from "../../protocol/join-report.js"
import { withCorrelationId } from "../../runtime/Correlation.js"
import { BusConnector } from "../../transports/connector.js"
import { randomBytes } from "node:crypto"
import { directPath } from "./direct-path.js"
import { AccessDenied, LookupFailed, MeetingNotFound, UseWebClient } from "./errors.js"
import type { JoinError } from "./errors.js"
import * as Fallback from "./fallback.js"
import * as E2e from "../../protocol/e2e.js"
import * as Lookup from "./lookup.js"
import type { JoinOptions } from "./options.js"
import type { JoinContext } from "./path.js"
import * as Proxy from "./proxy.js"
import * as Report from "./report.js"
import type { JoinSession } from "./session.js"
import { session } from "./session.js"
import { tunnelPath } from "./tunnel-path.js"

export type { JoinOptions, MediaOptions } from "./options.js"
export type { JoinSession, SessionEvent } from "./session.js"

const msOf = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))

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
    const problem = Lookup.webUrlProblem(options.web)
    if (problem !== undefined) {
      return yield* Effect.flatMap(recorder.report, (report) => Effect.fail(new LookupFailed({ url: options.web, detail: `${options.web}: ${problem}`, report })))
    }
    const web = new URL(options.web)
    const proxy = Proxy.detect(web, options.proxy, options.env ?? process.env)
    if (Option.isSome(proxy)) recorder.set({ proxy: proxy.value.url })
    const http = yield* Lookup.dispatcher(options.tls ?? {}, proxy)
    /**
     * Best effort: operators learn how the join went; the join never waits on
     * it for long. Only a join that got a token can tell (the web lookup takes
     * reports on a join's own authority).
     */
    let joinToken: string | undefined
    const tellWeb = (report: JoinReport, outcome: "ok" | JoinError["_tag"]) =>
      options.reportToWeb === false || joinToken === undefined
        ? Effect.void
        : Lookup.reportJoin(http, web, Lookup.summarize(report, outcome), joinToken, 2000).pipe(
            Effect.tapError((e) => Effect.logDebug(`join report not delivered: ${e.message}`)),
            Effect.ignore,
          )
    const fail = <E extends JoinError>(make: (report: JoinReport) => E) =>
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
    joinToken = info.joinToken
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
      session: randomBytes(24).toString("base64url"),
      proxyTarget: Option.getOrUndefined(Option.map(proxy, (p) => ({ url: p.url, authorization: p.authorization }))),
      refreshKeys: Lookup.mediaKeys(http, web, options.meeting, info.joinToken, 5000),
      // End-to-end: a key pair for this join only, its public half declared with every Join.
      ...(info.media !== undefined && "endToEnd" in info.media && options.media !== undefined && options.media.kinds.length > 0 ? { identity: E2e.newIdentity() } : {}),
    }

    return yield* Effect.gen(function* () {
      // 2–4, direct; then the last resorts.
      const scope = yield* Effect.scope
      const reasons: Record<string, string> = {}
      const only = options.paths
      let path: Fallback.Path = only === undefined || only.includes("direct") ? "direct" : "tunnel"
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
        // Only some paths asked for (e.g. by `meetzone doctor`): the first one outside them ends the join with this path's failure.
        if (next === "done" || (only !== undefined && (next === "web-client" || !only.includes(next)))) return yield* fail(failure.error)
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

