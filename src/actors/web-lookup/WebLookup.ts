/**
 * The web lookup: the HTTPS front door. Its protocol is its API.
 *
 *   POST /api/meetings                 → 201 the new meeting (id, topic, join URL)
 *   GET  /api/meetings/:id             → the meeting (404 unknown)
 *   GET  /api/meetings/:id/join-info   → join info: meeting, participant, the zones
 *                                        ranked for this client (Geo-IP, then
 *                                        health), tunnels, web-client URL, and a
 *                                        signed, expiring join token
 *                                        (403 passcode, 404 unknown)
 *   GET  /relay                        → WebSocket: control requests for clients
 *                                        that cannot reach NATS (policy-checked)
 *   GET  /, /j/:id, /doctor            → create or join a meeting; the web client for one; what a browser can reach
 *   GET  /web/*                        → its scripts and styles (web/)
 *   POST /api/joins                    → 202: a client says how its join went
 *   GET  /ops                          → the operators' dashboard (page)
 *   GET  /ops/api/state                → its data: zones, controllers, MMRs with
 *                                        load, tunnels, meetings with participants,
 *                                        idle placements, recent joins (Bearer
 *                                        operator token; 401)
 *   GET  /healthz                      → 200
 *
 * Anything malformed is a 400 naming the field; nothing malformed is fatal.
 *
 * @since 0.1.0
 */
import type { Server as HttpServerImpl } from "node:http"
import { randomBytes } from "node:crypto"
import { createServer } from "node:https"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { Scope } from "effect"
import { Clock, Context, Effect, FiberSet, Layer, Option } from "effect"
import type { HttpBodyError } from "@effect/platform/HttpBody"
import type { ServeError } from "@effect/platform/HttpServerError"
import type { KvError } from "../../protocol/errors.js"
import { MeetingId } from "../../protocol/meeting.js"
import { JoinTokens } from "../../protocol/token.js"
import { CreateMeeting, JoinInfoQuery, JoinSummary } from "../../protocol/web-api.js"
import type { JoinInfo, MeetingView, ZoneInfo } from "../../protocol/web-api.js"
import { inboxPrefix } from "../../protocol/permissions.js"
import { clientPolicy } from "../../protocol/relay.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { KeyValue } from "../../runtime/KeyValue.js"
import * as PresenceView from "../presence-view.js"
import * as Stores from "../stores.js"
import type { WebLookupConfig, WebLookupHandle } from "./config.js"
import * as WebAssets from "./web-assets.js"
import * as OpsRoute from "./ops-route.js"
import * as RelayRoute from "./relay-route.js"
import { apiError, BadRequest, bearerOf, decodeOr400, MAX_BODY, readJsonBody, reply, tooMany } from "./http.js"
import * as RateLimit from "../../runtime/RateLimit.js"
import * as ClientAddress from "./client-address.js"
import { GeoLocator } from "./geo.js"
import * as JoinLog from "./join-log.js"
import { endToEndMedia } from "../../protocol/e2e.js"
import * as MediaKeyService from "./media-keys.js"
import * as Meetings from "./meetings.js"
import { rankZones } from "./ranking.js"

export type { WebLookupConfig, WebLookupHandle, ZoneDefinition } from "./config.js"


/**
 * Starts the web lookup for the life of the scope.
 *
 * @category constructors
 */
export const start = (
  config: WebLookupConfig,
): Effect.Effect<WebLookupHandle, KvError | ServeError, ControlBus | KeyValue | JoinTokens | GeoLocator | Scope.Scope> =>
  Effect.gen(function* () {
    const tokens = yield* JoinTokens
    const geo = yield* GeoLocator
    const bus = yield* ControlBus
    const policy = clientPolicy(config.subjects.prefix)
    const stores = yield* Stores.open({ buckets: config.buckets, presenceTtl: config.presenceTtl, replicas: config.replicas })
    const presenceTtl = config.presenceTtl ?? "3 seconds"
    const presence = yield* PresenceView.watch(stores, presenceTtl)
    const clientAddress = ClientAddress.make(config.trustedProxies)
    const joinTokenTtl = config.joinTokenTtl ?? "5 minutes"
    let publicUrl = config.publicUrl
    const joins = JoinLog.make()
    const limits = {
      createMeeting: RateLimit.make(config.limits?.createMeeting ?? { perMinute: 60, burst: 20 }),
      joinInfo: RateLimit.make(config.limits?.joinInfo ?? { perMinute: 600, burst: 100 }),
      // Wrong guesses only: an office behind one address joining with the right passcode is not refused.
      guessesByAddress: RateLimit.make(config.limits?.passcodeGuesses ?? { perMinute: 10, burst: 5 }),
      guessesByMeeting: RateLimit.make(config.limits?.passcodeGuessesPerMeeting ?? { perMinute: 30, burst: 10 }),
    }
    /** Takes one from `limiter` for `key` now; the 429 to answer when there is none. */
    const overLimit = (limiter: RateLimit.RateLimiter, key: string, what: string) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const verdict = limiter.take(key, now)
        return verdict.ok ? undefined : tooMany(what, verdict.retryAfterMs)
      })
    const addressOf = (request: HttpServerRequest.HttpServerRequest) =>
      clientAddress(Option.getOrElse(request.remoteAddress, () => ""), request.headers["x-forwarded-for"])
    let joinInfos = 0
    const mediaKeys =
      config.mediaKeys === false
        ? undefined
        : yield* MediaKeyService.start({ subjects: config.subjects, buckets: config.buckets, stores, ...(config.replicas !== undefined ? { replicas: config.replicas } : {}), ...config.mediaKeys })
    // Relay sessions outlive their request's handler; the web lookup ends them when it stops.
    const relays = yield* FiberSet.make<void>()
    let relayRefused = 0

    const view = (m: { id: string; topic: string; passcode?: unknown; createdAt: number; endToEnd?: boolean | undefined }): MeetingView => ({
      id: m.id,
      topic: m.topic,
      hasPasscode: m.passcode !== undefined,
      endToEnd: m.endToEnd === true,
      joinUrl: `${publicUrl}/j/${m.id}`,
      createdAt: m.createdAt,
    })

    // --- POST /api/meetings ---------------------------------------------------
    const createMeeting = Effect.gen(function* () {
      const limited = yield* overLimit(limits.createMeeting, addressOf(yield* HttpServerRequest.HttpServerRequest), "meetings created")
      if (limited !== undefined) return limited
      const body = yield* Effect.flatMap(readJsonBody, decodeOr400(CreateMeeting))
      const meeting = yield* Meetings.create(stores, body.topic ?? "Meeting", body.passcode, body.endToEnd)
      yield* Effect.logInfo(`meeting ${meeting.id} created`)
      return reply(201, view(meeting))
    })

    const meetingFromPath = Effect.flatMap(HttpRouter.params, (p) => decodeOr400(MeetingId, "id")(p["id"]))

    // --- GET /api/meetings/:id ----------------------------------------------------
    const getMeeting = Effect.gen(function* () {
      const id = yield* meetingFromPath
      const meeting = yield* Meetings.find(stores, id)
      return Option.isNone(meeting)
        ? apiError(404, "MeetingNotFound", `no meeting ${id}`)
        : reply(200, view(meeting.value))
    })

    // --- GET /api/meetings/:id/join-info ----------------------------------------------
    const joinInfo = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const address = addressOf(request)
      // Before any work: a flood from one address is refused cheaply and slows no one else.
      const limited = yield* overLimit(limits.joinInfo, address, "join-info requests")
      if (limited !== undefined) return limited
      const id = yield* meetingFromPath
      const query = yield* Effect.flatMap(HttpServerRequest.ParsedSearchParams, decodeOr400(JoinInfoQuery, "query"))
      const found = yield* Meetings.find(stores, id)
      if (Option.isNone(found)) return apiError(404, "MeetingNotFound", `no meeting ${id}`)
      const meeting = found.value
      const passcode = request.headers["x-meeting-passcode"] ?? query.passcode
      if (meeting.passcode !== undefined) {
        if (passcode === undefined) return apiError(403, "PasscodeRequired", "this meeting needs a passcode")
        // Wrong guesses are limited per address and per meeting (a botnet guessing one meeting); when either is
        // spent, no guess is even checked (each costs one scrypt).
        const now = yield* Clock.currentTimeMillis
        const spent = [limits.guessesByAddress.peek(address, now), limits.guessesByMeeting.peek(id, now)].find((v) => !v.ok)
        if (spent !== undefined && !spent.ok) return tooMany("wrong passcodes", spent.retryAfterMs)
        if (!(yield* Meetings.passcodeMatches(meeting, passcode))) {
          limits.guessesByAddress.take(address, now)
          limits.guessesByMeeting.take(id, now)
          return apiError(403, "BadPasscode", "the passcode does not match")
        }
      }

      const located = geo.locate(address)
      const statuses = yield* Effect.forEach(config.zones, (zone) =>
        Effect.map(Effect.all([presence.controllers(zone.id), presence.mmrs(zone.id)]), ([controllers, mmrs]) => ({
          ...zone,
          liveControllers: controllers.length,
          controllers,
          mmrs,
        })),
      )
      const ranked = rankZones(statuses, Option.getOrUndefined(Option.map(located, (l) => l.location)))
      const zones: Array<ZoneInfo> = ranked.map(({ zone, distanceKm }) => ({
        id: zone.id,
        name: zone.name,
        location: zone.location,
        ...(distanceKm !== undefined ? { distanceKm: Math.round(distanceKm) } : {}),
        nats: zone.nats,
        assignSubject: config.subjects.zoneAssign(zone.id),
        controllers: zone.controllers.map((c) => ({ id: c.id, subject: c.subject })),
      }))

      const participant = randomBytes(6).toString("hex")
      const name = query.name ?? `Guest ${participant.slice(0, 4)}`
      const { token, claims } = yield* tokens.sign({ meeting: id, participant, name }, joinTokenTtl)
      const tunnels = yield* presence.tunnels
      const info: JoinInfo = {
        meeting: { id, topic: meeting.topic },
        participant: { id: participant, name },
        client: {
          address,
          ...(Option.isSome(located) ? { location: located.value.location } : {}),
          locatedBy: Option.isSome(located) ? located.value.by : "none",
        },
        zones,
        tunnels: tunnels.map((t) => ({ id: t.id, url: t.url })),
        relay: `${publicUrl!.replace(/^http/, "ws")}/relay`,
        webClientUrl: `${publicUrl}/j/${id}`,
        meetingEvents: config.subjects.meetingRoster(id),
        joinToken: token,
        expiresAt: claims.expiresAt,
        ...(meeting.endToEnd === true ? { media: endToEndMedia } : mediaKeys !== undefined ? { media: yield* mediaKeys.forJoin(id, participant) } : {}),
        ...(config.clientCredentials !== undefined
          ? {
              natsCredentials: {
                creds: yield* config.clientCredentials({ participant, meeting: id, zones }, claims.expiresAt).pipe(Effect.orDie),
                inboxPrefix: inboxPrefix.client(participant),
                ...(config.natsCa !== undefined ? { ca: config.natsCa } : {}),
              },
            }
          : {}),
      }
      joinInfos++
      return reply(200, info)
    })

    // --- POST /api/joins ------------------------------------------------------------
    // On the join's own authority, once per join: nobody can inflate the operators' figures.
    const reported = new Set<string>()
    const reportJoin = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const bearer = bearerOf(request)
      if (bearer === undefined) return apiError(401, "Unauthorized", "a join report needs the join's token (Authorization: Bearer <joinToken>)")
      const claims = yield* Effect.either(tokens.verify(bearer))
      if (claims._tag === "Left") return apiError(401, "InvalidToken", claims.left.message)
      const summary = yield* Effect.flatMap(readJsonBody, decodeOr400(JoinSummary))
      if (summary.meeting !== claims.right.meeting || (summary.participant !== undefined && summary.participant !== claims.right.participant)) {
        return apiError(403, "Forbidden", "the report is not about this token's join")
      }
      if (reported.has(claims.right.participant)) return reply(202, { ok: true, counted: false })
      reported.add(claims.right.participant)
      if (reported.size > 10_000) reported.delete(reported.values().next().value!)
      joins.add(summary, Date.now())
      return reply(202, { ok: true, counted: true })
    })

    // --- GET /api/meetings/:id/media-keys: the epochs again, on the join's own authority ---
    const mediaKeysAgain = Effect.gen(function* () {
      const id = yield* meetingFromPath
      const bearer = bearerOf(yield* HttpServerRequest.HttpServerRequest)
      if (bearer === undefined) return apiError(401, "Unauthorized", "media keys need the join's token (Authorization: Bearer <joinToken>)")
      const claims = yield* Effect.either(tokens.verify(bearer))
      if (claims._tag === "Left") return apiError(401, "InvalidToken", claims.left.message)
      if (claims.right.meeting !== id) return apiError(403, "Forbidden", "the token is for another meeting")
      if (mediaKeys === undefined) return apiError(404, "NotFound", "this deployment sends media in the clear")
      const meeting = yield* Meetings.find(stores, id)
      if (Option.isSome(meeting) && meeting.value.endToEnd === true) return apiError(409, "EndToEnd", "this meeting is end-to-end encrypted: its keys are with its participants only")
      const keys = yield* mediaKeys.forParticipant(id, claims.right.participant)
      return Option.isNone(keys) ? apiError(403, "Departed", "this participant left the meeting: no new media keys") : reply(200, keys.value)
    })

    // --- the operators' dashboard -------------------------------------------------------
    const opsState = OpsRoute.state({ id: config.id, zones: config.zones, opsToken: config.opsToken, stores, presence, joins, subjects: config.subjects, bus })

    const serveAsset = (relative: string) =>
      Effect.map(WebAssets.read(relative), (asset) =>
        Option.isNone(asset) ? apiError(404, "NotFound", "no such file") : HttpServerResponse.uint8Array(asset.value.body, { contentType: asset.value.contentType, headers: asset.value.headers }),
      )

    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/api/meetings", createMeeting),
      HttpRouter.get("/api/meetings/:id", getMeeting),
      HttpRouter.get("/api/meetings/:id/join-info", joinInfo),
      HttpRouter.get("/api/meetings/:id/media-keys", mediaKeysAgain),
      HttpRouter.post("/api/joins", reportJoin),
      HttpRouter.get("/ops", serveAsset("ops/index.html")),
      HttpRouter.get("/doctor", serveAsset("doctor/index.html")),
      HttpRouter.get("/", serveAsset("home/index.html")),
      HttpRouter.get("/ops/api/state", opsState),
      HttpRouter.get("/healthz", Effect.succeed(reply(200, { ok: true }))),
      HttpRouter.get("/j/:id", Effect.zipRight(meetingFromPath, serveAsset("client/index.html"))),
      HttpRouter.get(
        "/web/*",
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          // The path as the client sent it, percent-escapes left alone: no file under web/ needs one.
          serveAsset(new URL(request.url, "https://x").pathname.slice("/web/".length)),
        ),
      ),
      HttpRouter.get("/relay", RelayRoute.serve({ bus, policy, tokens, relays, refused: () => void relayRefused++, events: config.subjects.meetingRoster })),
    )

    const app = router.pipe(
      Effect.catchTags({
        BadRequest: (e: BadRequest) => Effect.succeed(apiError(400, "BadRequest", `${e.field}: ${e.detail}`, e.field)),
        StoreUnavailable: (e: { message: string }) =>
          Effect.succeed(apiError(503, "StoreUnavailable", e.message)),
        RouteNotFound: () => Effect.succeed(apiError(404, "NotFound", "no such route")),
      }),
      Effect.catchAllCause((cause) =>
        Effect.as(Effect.logError("web lookup: request failed", cause), apiError(500, "Internal", "internal error")),
      ),
      HttpServerRequest.withMaxBodySize(Option.some(MAX_BODY)),
    ) as Effect.Effect<HttpServerResponse.HttpServerResponse, HttpBodyError, HttpServerRequest.HttpServerRequest>

    let server: HttpServerImpl | undefined
    const https = NodeHttpServer.layer(
      // An https.Server is an http.Server as far as request handling goes.
      () => (server = createServer({ cert: config.tls.cert, key: config.tls.key }) as unknown as HttpServerImpl),
      { host: config.host, port: config.port },
    )
    const built = yield* Layer.build(Layer.provideMerge(HttpServer.serve(app), https))
    // Runs before the server's own close: keep-alive connections (a dashboard polling every
    // second) would otherwise keep it open for as long as the browser likes. Requests in
    // flight get a moment to finish.
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(FiberSet.clear(relays), Effect.async<void>((resume) => {
        if (server === undefined || !server.listening) return resume(Effect.void)
        const closing = server
        const force = setTimeout(() => closing.closeAllConnections(), 1000)
        closing.close(() => {
          clearTimeout(force)
          resume(Effect.void)
        })
        closing.closeIdleConnections()
      })),
    )
    const address = Context.get(built, HttpServer.HttpServer).address
    const port = address._tag === "TcpAddress" ? address.port : config.port
    publicUrl ??= `https://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`
    yield* Effect.logInfo(`web lookup ${config.id} at ${publicUrl}`)
    return { url: publicUrl, port, joins, joinInfos: () => joinInfos, relayRefused: () => relayRefused, keyEpochs: () => mediaKeys?.rotations() ?? 0 }
  }).pipe(Effect.annotateLogs("web", config.id))

/**
 * The web lookup as a Layer, running for the life of the layer: for composing a
 * topology of one's own (merge the layers of the actors a process runs, and
 * provide the control plane and policies once).
 *
 * @category layers
 */
export const layer = (config: WebLookupConfig): Layer.Layer<never, KvError | ServeError, ControlBus | KeyValue | JoinTokens | GeoLocator> => Layer.scopedDiscard(start(config))
