/**
 * Phase 1, the meeting lookup: HTTPS to the web lookup, through the proxy
 * when there is one (HTTP CONNECT, with Proxy-Authorization when the proxy
 * URL carried credentials).
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Data, Duration, Effect, Either, Option, Schema } from "effect"
import type { Dispatcher } from "undici"
import { Agent, ProxyAgent, fetch } from "undici"
import { formatIssue } from "../../protocol/codec.js"
import type { JoinReport } from "../../protocol/join-report.js"
import { MediaKeys } from "../../protocol/media-keys.js"
import type { JoinInfo, JoinSummary, MeetingView } from "../../protocol/web-api.js"
import { ApiError, JoinInfo as JoinInfoSchema, MeetingView as MeetingViewSchema } from "../../protocol/web-api.js"
import type { ProxySetting } from "./proxy.js"
import { detect } from "./proxy.js"

/** How to trust the servers' TLS certificates. @category models */
export interface TlsTrust {
  /** PEM CA certificate(s) to trust besides the system's. */
  readonly ca?: string
  /** Skip verification entirely (development only). */
  readonly insecure?: boolean
}

/** Why a lookup failed. @category errors */
export class LookupProblem extends Data.TaggedError("LookupProblem")<{
  readonly kind: "not-found" | "access-denied" | "failed"
  readonly status: number | undefined
  readonly code: string | undefined
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * An HTTP client for the web tier, closed with the scope.
 *
 * @category constructors
 */
export const dispatcher = (trust: TlsTrust, proxy: Option.Option<ProxySetting>): Effect.Effect<Dispatcher, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): Dispatcher => {
      const tls = { ...(trust.ca !== undefined ? { ca: trust.ca } : {}), rejectUnauthorized: trust.insecure !== true }
      return Option.match(proxy, {
        onNone: () => new Agent({ connect: tls }),
        onSome: (p) =>
          new ProxyAgent({ uri: p.url, ...(p.authorization !== undefined ? { token: p.authorization } : {}), requestTls: tls }),
      })
    }),
    (d) => Effect.promise(() => d.close()).pipe(Effect.ignore),
  )

const call = <A, I>(
  http: Dispatcher,
  url: URL,
  init: { method: string; headers?: Record<string, string>; body?: string },
  schema: Schema.Schema<A, I, never>,
  timeoutMs: number,
): Effect.Effect<A, LookupProblem> =>
  Effect.gen(function* () {
    const response = yield* Effect.tryPromise({
      try: (signal) =>
        fetch(url, { ...init, dispatcher: http, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }).then(
          async (r) => ({ status: r.status, text: await r.text() }),
        ),
      catch: (e) =>
        new LookupProblem({
          kind: "failed",
          status: undefined,
          code: undefined,
          detail: `${init.method} ${url.origin}${url.pathname}: ${describeFetchError(e)}`,
        }),
    })
    let body: unknown
    try {
      body = JSON.parse(response.text)
    } catch {
      body = undefined
    }
    if (response.status >= 400) {
      const problem = Schema.decodeUnknownOption(ApiError)(body)
      const code = Option.getOrUndefined(Option.map(problem, (p) => p.error.code))
      const message = Option.getOrElse(Option.map(problem, (p) => p.error.message), () => response.text.slice(0, 200))
      return yield* new LookupProblem({
        kind: response.status === 404 ? "not-found" : response.status === 403 ? "access-denied" : "failed",
        status: response.status,
        code,
        detail: `${response.status} ${code ?? ""}: ${message}`.replace("  ", " "),
      })
    }
    const decoded = Schema.decodeUnknownEither(schema, { errors: "all" })(body)
    if (Either.isLeft(decoded)) {
      return yield* new LookupProblem({
        kind: "failed",
        status: response.status,
        code: "MalformedResponse",
        detail: `malformed answer from ${url.pathname}: ${formatIssue(decoded.left.issue)}`,
      })
    }
    return decoded.right
  })

/**
 * What is wrong with `raw` as the web lookup's URL, in words (with the usual
 * slip, a missing scheme, spelled out); none when it is an http(s) URL.
 *
 * @category lookup
 */
export const webUrlProblem = (raw: string): string | undefined => {
  const hint = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? "" : ` (give its scheme: https://${raw})`
  if (!URL.canParse(raw)) return `not a URL${hint}`
  const { protocol } = new URL(raw)
  return protocol === "https:" || protocol === "http:" ? undefined : `not an http(s) URL${hint}`
}

/** Node's codes for a certificate this host does not trust. */
const untrusted = new Set(["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_GET_ISSUER_CERT", "CERT_SIGNATURE_FAILURE"])

const describeFetchError = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  const cause = (e as { cause?: unknown }).cause
  if (!(cause instanceof Error)) return e.message
  const code = (cause as { code?: unknown }).code
  if (typeof code === "string" && untrusted.has(code)) return `its certificate is not trusted here (${cause.message}): trust the deployment's CA (tls.ca; --ca on the command line, the path \`meetzone up\` prints)`
  if (code === "CERT_HAS_EXPIRED") return `its certificate has expired (${cause.message})`
  if (code === "ECONNREFUSED") return `nothing listens there (connection refused)`
  return `${e.message} (${cause.message})`
}

/**
 * GET join-info for `meeting`.
 *
 * @category lookup
 */
export const joinInfo = (
  http: Dispatcher,
  web: URL,
  meeting: string,
  options: { readonly name?: string; readonly passcode?: string; readonly timeoutMs: number },
): Effect.Effect<JoinInfo, LookupProblem> => {
  const url = new URL(`/api/meetings/${encodeURIComponent(meeting)}/join-info`, web)
  if (options.name !== undefined) url.searchParams.set("name", options.name)
  return call(
    http,
    url,
    { method: "GET", ...(options.passcode !== undefined ? { headers: { "x-meeting-passcode": options.passcode } } : {}) },
    JoinInfoSchema,
    options.timeoutMs,
  )
}

/**
 * GET the meeting's media keys again, on the join's own authority (a key
 * event missed, or an epoch made while this join was on its way in).
 *
 * @category lookup
 */
export const mediaKeys = (http: Dispatcher, web: URL, meeting: string, token: string, timeoutMs: number): Effect.Effect<MediaKeys, LookupProblem> =>
  call(
    http,
    new URL(`/api/meetings/${encodeURIComponent(meeting)}/media-keys`, web),
    { method: "GET", headers: { authorization: `Bearer ${token}` } },
    MediaKeys,
    timeoutMs,
  )

/**
 * POST a new meeting: `createMeeting({ web, tls, topic })` with plain
 * strings and durations, as `Client.join` takes them; or on a dispatcher of
 * one's own (`dispatcher`), to reuse its connections.
 *
 * @category lookup
 */
export function createMeeting(options: CreateMeetingOptions): Effect.Effect<MeetingView, LookupProblem>
export function createMeeting(
  http: Dispatcher,
  web: URL,
  options: { readonly topic?: string; readonly passcode?: string; readonly endToEnd?: boolean; readonly timeoutMs: number },
): Effect.Effect<MeetingView, LookupProblem>
export function createMeeting(
  first: Dispatcher | CreateMeetingOptions,
  web?: URL,
  settings?: { readonly topic?: string; readonly passcode?: string; readonly endToEnd?: boolean; readonly timeoutMs: number },
): Effect.Effect<MeetingView, LookupProblem> {
  if (web === undefined || settings === undefined) {
    // The plain form: strings and durations, as `Client.join` takes them; the connection pool lives for this call.
    const o = first as CreateMeetingOptions
    const problem = webUrlProblem(o.web)
    if (problem !== undefined) return Effect.fail(new LookupProblem({ kind: "failed", status: undefined, code: "BadUrl", detail: `${o.web}: ${problem}` }))
    const url = new URL(o.web)
    return Effect.scoped(
      Effect.flatMap(dispatcher(o.tls ?? {}, detect(url, o.proxy, process.env)), (http) =>
        createMeeting(http, url, {
          ...(o.topic !== undefined ? { topic: o.topic } : {}),
          ...(o.passcode !== undefined ? { passcode: o.passcode } : {}),
          ...(o.endToEnd !== undefined ? { endToEnd: o.endToEnd } : {}),
          timeoutMs: Duration.toMillis(Duration.decode(o.timeout ?? "10 seconds")),
        }),
      ),
    )
  }
  const options = settings
  return call(
    first as Dispatcher,
    new URL("/api/meetings", web),
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        ...(options.topic !== undefined ? { topic: options.topic } : {}),
        ...(options.passcode !== undefined ? { passcode: options.passcode } : {}),
        ...(options.endToEnd === true ? { endToEnd: true } : {}),
      }),
    },
    MeetingViewSchema,
    options.timeoutMs,
  )
}

/** What `createMeeting` takes in its plain form. @category models */
export interface CreateMeetingOptions {
  /** The web lookup's base URL. */
  readonly web: string
  /** Which certificates to trust for the web lookup (a CA in PEM, or none for the system's). */
  readonly tls?: TlsTrust
  /** A proxy URL, or "none"; default HTTPS_PROXY / NO_PROXY. */
  readonly proxy?: string
  /** What the meeting is about (at most 200 characters). Default "Meeting". */
  readonly topic?: string
  /** Joins then need it (1–32 characters; stored only as a salted scrypt hash). */
  readonly passcode?: string
  /** Its participants make its media keys: nothing server-side can decrypt its media. */
  readonly endToEnd?: boolean
  /** Default 10 s. */
  readonly timeout?: Duration.DurationInput
}

/**
 * POST how a join went, for the operators (metrics, dashboard).
 *
 * @category lookup
 */
export const reportJoin = (
  http: Dispatcher,
  web: URL,
  summary: JoinSummary,
  /** The join's own token: the report is taken on its authority. */
  token: string,
  timeoutMs: number,
): Effect.Effect<unknown, LookupProblem> =>
  call(
    http,
    new URL("/api/joins", web),
    { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(summary) },
    Schema.Unknown,
    timeoutMs,
  )

/**
 * The summary of a join report that a client sends: no attempt detail.
 *
 * @category lookup
 */
export const summarize = (report: JoinReport, outcome: JoinSummary["outcome"]): JoinSummary => ({
  meeting: report.meeting.slice(0, 64),
  ...(report.participant !== undefined ? { participant: report.participant } : {}),
  ...(report.path !== undefined ? { path: report.path } : {}),
  outcome,
  ...(report.zone !== undefined ? { zone: report.zone } : {}),
  ...(report.mmr !== undefined ? { mmr: report.mmr } : {}),
  totalMs: report.totalMs,
  phases: report.phases.slice(0, 16).map((p) => ({ name: p.name, ms: p.ms, outcome: p.outcome })),
})
