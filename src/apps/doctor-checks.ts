/**
 * `meetzone doctor`'s checks against a real deployment, each step of the
 * connection process on its own:
 *
 *   web TLS        a TLS handshake with the web lookup (through the proxy, if any): certificate, protocol
 *   lookup         a meeting to try with (made for the purpose unless given), its join-info
 *   control        a join with no media, direct path only: NATS else the relay, every controller probed, placement
 *   media          a join per transport (UDP, TCP, TLS) with one audio stream for a moment: the MMR's
 *                  receiver reports give loss and round trip; the report says whether DSCP was marked
 *   tunnels        every tunnel pinged; a join through the tunnels alone, with media
 *
 * Every join here is a real one (then left): what works for the doctor works
 * for a join. doctor-verdict.ts judges.
 *
 * @since 0.3.0
 */
import { request as httpRequest } from "node:http"
import type { Socket } from "node:net"
import { connect as tlsConnect } from "node:tls"
import type { ConnectionOptions } from "node:tls"
import type { Duration } from "effect"
import { Effect, Fiber, Option } from "effect"
import type { Connector, JoinReport, Protocol } from "../index.js"
import { Client, HttpProxy, Lookup, TunnelClient } from "../index.js"
import type { Findings, Probe, Trial } from "./doctor-verdict.js"

/** @category models */
export interface DoctorOptions {
  readonly web: string
  readonly tls: Lookup.TlsTrust
  /** A proxy URL, or "none"; undefined reads HTTPS_PROXY / NO_PROXY. */
  readonly proxy?: string
  /** A meeting to try with; default: one made for the purpose. */
  readonly meeting?: string
  /** How long each media trial sends before it is judged (longer, up to 3 s, until a round trip is measured). Default 1.5 s (the MMR reports every second). */
  readonly mediaFor?: Duration.DurationInput
  /** Zone selection's deadline. Default 5.5 s, as a join's. */
  readonly zoneDeadlineMs?: number
}

const describe = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)

/** A TCP connection to `host:port` through the proxy's CONNECT. */
const viaProxy = (proxy: HttpProxy.ProxySetting, host: string, port: number, timeoutMs: number) =>
  new Promise<Socket>((resolve, reject) => {
    const p = new URL(proxy.url)
    const req = httpRequest({
      host: p.hostname,
      port: Number(p.port || 80),
      method: "CONNECT",
      path: `${host}:${port}`,
      timeout: timeoutMs,
      headers: { host: `${host}:${port}`, ...(proxy.authorization !== undefined ? { "proxy-authorization": proxy.authorization } : {}) },
    })
    req.on("connect", (res, socket) => (res.statusCode === 200 ? resolve(socket) : (socket.destroy(), reject(new Error(`the proxy answered CONNECT with ${res.statusCode}`)))))
    req.on("timeout", () => req.destroy(new Error(`the proxy did not answer in ${timeoutMs} ms`)))
    req.on("error", reject)
    req.end()
  })

/** The web lookup's TLS: does its certificate verify, for how long, which protocol. */
const webTls = (web: URL, trust: Lookup.TlsTrust, proxy: Option.Option<HttpProxy.ProxySetting>, timeoutMs = 5000): Effect.Effect<Findings["webTls"]> =>
  Effect.promise(async (): Promise<Findings["webTls"]> => {
    const started = performance.now()
    const host = web.hostname.replace(/^\[|\]$/g, "")
    const port = Number(web.port || 443)
    try {
      const socket = Option.isSome(proxy) ? await viaProxy(proxy.value, host, port, timeoutMs) : undefined
      return await new Promise<Findings["webTls"]>((resolve) => {
        const connection: ConnectionOptions = {
          ...(socket !== undefined ? { socket } : { host, port }),
          ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }),
          ...(trust.ca !== undefined ? { ca: trust.ca } : {}),
          rejectUnauthorized: false, // judged below, so that the answer says why
          timeout: timeoutMs,
        }
        const tls = tlsConnect(connection)
        const done = (p: Omit<Probe, "ms"> & { untrusted?: boolean }) => {
          tls.destroy()
          resolve({ ...p, ms: performance.now() - started })
        }
        tls.on("secureConnect", () => {
          const cert = tls.getPeerCertificate()
          const subject = cert.subject?.CN ?? cert.subjectaltname ?? "?"
          const verified = tls.authorized || trust.insecure === true
          done({
            ok: verified,
            ...(verified ? {} : { untrusted: true }),
            detail: verified
              ? `${tls.getProtocol()}, ${subject}, valid until ${new Date(cert.valid_to).toISOString().slice(0, 10)}${tls.authorized ? "" : " (not verified: --insecure)"}`
              : `the certificate does not verify: ${tls.authorizationError} (give the deployment's CA with --ca)`,
          })
        })
        tls.on("timeout", () => done({ ok: false, detail: `no TLS handshake in ${timeoutMs} ms` }))
        tls.on("error", (e) => done({ ok: false, detail: e.message }))
      })
    } catch (e) {
      return { ok: false, ms: performance.now() - started, detail: describe(e) }
    }
  })

/** A join restricted as `limits` says, held for `hold`, then left: its final report, or why it failed. */
const trial = (base: Client.JoinOptions, limits: Partial<Client.JoinOptions>, hold: Duration.DurationInput = 0) =>
  Effect.gen(function* () {
    const session = yield* Client.join({ ...base, ...limits })
    if (limits.media === undefined) return { report: yield* session.finalReport, media: session.joined.media }
    // Media for `hold`, and longer (up to 3 s more) until the MMR's receiver reports give a round trip.
    yield* Effect.sleep(hold)
    let report = yield* session.finalReport
    const measured = (r: JoinReport.JoinReport) => r.media?.[0]?.rtcp?.rttMs !== undefined || r.media?.[0]?.rtcp?.up?.rttMs !== undefined
    for (let i = 0; i < 12 && !measured(report); i++) {
      yield* Effect.sleep("250 millis")
      report = yield* session.finalReport
    }
    return { report, media: session.joined.media }
  }).pipe(
    Effect.scoped,
    Effect.map((r): Trial & { media?: { host: string; port: number; tlsPort: number } } => ({ report: r.report, ...(r.media !== undefined ? { media: r.media } : {}) })),
    Effect.catchAll((e) => Effect.succeed<Trial>({ error: { tag: e._tag, message: e.message }, report: e.report })),
  )

const audioOver = (transports: ReadonlyArray<Protocol.Media.MediaTransport> | undefined): Client.JoinOptions["media"] => ({
  kinds: ["audio"],
  ...(transports !== undefined ? { transports } : {}),
  rtcpIntervalMs: 250,
  migration: false,
  networkWatch: false,
})

/**
 * Runs every check.
 *
 * @category checking
 */
export const run = (options: DoctorOptions): Effect.Effect<Findings, never, Connector.BusConnector> =>
  Effect.gen(function* () {
    const web = new URL(options.web)
    const proxy = HttpProxy.detect(web, options.proxy, process.env)
    const proxyUrl = Option.getOrUndefined(Option.map(proxy, (p) => p.url))
    const hold = options.mediaFor ?? "1500 millis"
    const tls = yield* webTls(web, options.tls, proxy)

    // A meeting to try with, and what its lookup says.
    const http = yield* Lookup.dispatcher(options.tls, proxy)
    const started = performance.now()
    const looked = yield* Effect.gen(function* () {
      const meeting = options.meeting ?? (yield* Lookup.createMeeting(http, web, { topic: "meetzone doctor", timeoutMs: 5000 })).id
      return { meeting, info: yield* Lookup.joinInfo(http, web, meeting, { name: "doctor", timeoutMs: 5000 }) }
    }).pipe(Effect.either)
    const lookupMs = performance.now() - started
    const noTrial: Trial = { skipped: "the lookup failed" }
    if (looked._tag === "Left") {
      return {
        web: options.web,
        ...(proxyUrl !== undefined ? { proxy: proxyUrl } : {}),
        webTls: tls,
        lookup: { ok: false, ms: lookupMs, detail: looked.left.detail },
        control: noTrial,
        media: { udp: noTrial, tcp: noTrial, tls: noTrial },
        tunnels: [],
        tunnelMedia: noTrial,
      }
    }
    const { meeting, info } = looked.right
    const base: Client.JoinOptions = {
      web: options.web,
      meeting,
      name: "doctor",
      tls: options.tls,
      ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
      reportToWeb: false,
      liveness: false,
      ...(options.zoneDeadlineMs !== undefined ? { zoneSelection: { deadlineMs: options.zoneDeadlineMs } } : {}),
    }

    // The tunnels, beside the direct path (which can take the whole 5.5 s).
    const tunnelsFiber = yield* Effect.fork(
      Effect.forEach(
        info.tunnels,
        (t) =>
          TunnelClient.connect(t.url, { timeoutMs: 3000, tls: options.tls, ...(Option.isSome(proxy) ? { proxy: { url: proxy.value.url, authorization: proxy.value.authorization } } : {}) }).pipe(
            Effect.map((c) => {
              c.close()
              return { id: t.id, url: t.url, ok: true, ms: c.rttMs, detail: `answered a ping (${c.tunnel})` }
            }),
            Effect.catchAll((e) => Effect.succeed({ id: t.id, url: t.url, ok: false, ms: 0, detail: e.detail })),
          ),
        { concurrency: "unbounded" },
      ),
    )
    const tunnelMediaFiber = yield* Effect.fork(
      info.tunnels.length === 0 ? Effect.succeed<Trial>({ skipped: "the lookup listed no tunnel" }) : trial(base, { paths: ["tunnel"], media: audioOver(undefined) }, hold),
    )

    const control = yield* trial(base, { paths: ["direct"] })
    const allowed: ReadonlyArray<Protocol.Media.MediaTransport> = Option.isSome(proxy) ? ["tls"] : ["udp", "tcp", "tls"]
    const media = Object.fromEntries(
      yield* Effect.forEach(
        ["udp", "tcp", "tls"] as const,
        (t) =>
          Effect.map(
            control.error !== undefined
              ? Effect.succeed<Trial>({ skipped: `not tried: ${control.error.message}` })
              : !allowed.includes(t)
                ? Effect.succeed<Trial>({ skipped: "behind a proxy a join sends media over TLS only" })
                : trial(base, { paths: ["direct"], media: audioOver([t]) }, hold),
            (r) => [t, r] as const,
          ),
        { concurrency: "unbounded" },
      ),
    ) as Record<Protocol.Media.MediaTransport, Trial>
    return {
      web: options.web,
      ...(proxyUrl !== undefined ? { proxy: proxyUrl } : {}),
      webTls: tls,
      lookup: {
        ok: true,
        ms: lookupMs,
        detail: `meeting ${meeting}${options.meeting === undefined ? " (made for this)" : ""}: ${info.zones.length} zones (${info.zones.map((z) => z.id).join(", ")}), ${info.tunnels.length} tunnels, this host seen as ${info.client.address}`,
        info,
      },
      control,
      media,
      tunnels: yield* Fiber.join(tunnelsFiber),
      tunnelMedia: yield* Fiber.join(tunnelMediaFiber),
    }
  }).pipe(Effect.scoped)

