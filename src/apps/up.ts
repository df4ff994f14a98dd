/**
 * `meetzone up`: a whole topology in one process — web lookup, zones with
 * their controllers and MMRs — over NATS (given with --nats or in the config;
 * else a nats-server it starts itself; else the in-process bus, said out loud).
 * With --demo it creates a meeting, joins two clients through the real
 * connection process, prints their join reports, and exits.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Either, Layer, Option } from "effect"
import { Client, Config, ControlPlane, Connector, Lookup, Protocol, Topology } from "../index.js"
import * as DevMode from "./dev-mode.js"
import * as Logging from "./logging.js"
import * as ReportFormat from "./report-format.js"
import * as Serve from "./serve.js"
import * as Tracing from "./tracing.js"

const configOption = Options.file("config").pipe(
  Options.withDescription("topology file (YAML or JSON); default: 2 zones × 2 controllers × 2 MMRs on loopback"),
  Options.optional,
)
const natsOption = Options.text("nats").pipe(
  Options.withDescription("NATS URL(s), comma-separated; default: the config's, else start a nats-server, else in-process"),
  Options.optional,
)
const demoOption = Options.boolean("demo").pipe(
  Options.withDescription("create a meeting, join two clients, print their join reports, exit"),
)
const keepOption = Options.boolean("keep").pipe(Options.withDescription("with --demo: stay up after it"))

/** Creates a meeting and joins two clients to it through the whole connection process. */
const demo = (webUrl: string, caCert: string | undefined, connector: Layer.Layer<Connector.BusConnector>) =>
  Effect.gen(function* () {
    const tls = caCert !== undefined ? { ca: caCert } : {}
    const http = yield* Lookup.dispatcher(tls, Option.none())
    const meeting = yield* Lookup.createMeeting(http, new URL(webUrl), { topic: "meetzone demo", timeoutMs: 5000 })
    yield* Console.log(`\ndemo: meeting ${meeting.id} created (${meeting.joinUrl})`)
    const sessions: Array<Client.JoinSession> = []
    for (const name of ["Ada", "Grace"]) {
      const session = yield* Client.join({
        web: webUrl,
        meeting: meeting.id,
        name,
        tls,
        proxy: "none",
        media: { kinds: ["audio", "video", "content"] },
      }).pipe(
        Effect.provide(connector),
        Effect.tapError((e) => Console.log(ReportFormat.format(e.report, name))),
      )
      sessions.push(session)
    }
    yield* Console.log("demo: both send synthetic audio, video and content for 2 s")
    yield* Effect.sleep("2 seconds")
    for (const [i, session] of sessions.entries()) {
      yield* Console.log(ReportFormat.format(yield* session.finalReport, ["Ada", "Grace"][i]))
    }
    const same = sessions.every((s) => s.mmr === sessions[0]!.mmr)
    yield* Console.log(
      same
        ? `demo: both participants are on ${sessions[0]!.mmr}; its roster: ${sessions[1]!.joined.roster.map((p) => p.name).join(", ")}`
        : `demo: participants ended on different MMRs (${sessions.map((s) => s.mmr).join(", ")})`,
    )
    if (!same) return yield* Effect.fail(new Error("one meeting was placed on two MMRs"))
  }).pipe(Effect.scoped)

/** Commands to paste: in dev mode they need no --web or --ca (the defaults find this run, and the next). */
const tryIt = (webUrl: string, caFile: string | undefined, dev: boolean): ReadonlyArray<string> => {
  const flags = dev ? "" : ` --web ${webUrl}${caFile !== undefined ? ` --ca ${caFile}` : ""}`
  return [
    dev ? "try it (these work again after every restart of `meetzone up`):" : "try it:",
    `  npx meetzone meeting create${flags} --topic hello`,
    `  npx meetzone client join MEETING${flags} --media audio,video --duration 30`,
    `  npx meetzone doctor${flags}`,
    `  in a browser: ${webUrl}/ (create or join a meeting), ${webUrl}/doctor`,
  ]
}

/** A few lines of /metrics after the demo: the operators' view of what just happened. */
const showMetrics = (url: string) =>
  Effect.gen(function* () {
    // The joins' reports reach the web lookup just after the sessions end.
    yield* Effect.sleep("200 millis")
    const text = yield* Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text()))
    const wanted = /^meetzone_(joins_total|placements_total\{[^}]*outcome="placed"|mmr_packets_total\{[^}]*kind="audio")/
    const lines = text.split("\n").filter((l) => wanted.test(l) && !l.endsWith(" 0"))
    yield* Console.log([`\ndemo: from ${url}/metrics`, ...lines.map((l) => `  ${l}`)].join("\n"))
  }).pipe(Effect.catchAllCause(() => Effect.void))

export const up = Command.make("up", { config: configOption, nats: natsOption, demo: demoOption, keep: keepOption }, (args) =>
  Effect.gen(function* () {
    // No arguments: dev mode — the web lookup at MEETZONE_WEB (https://127.0.0.1:8443) and a CA kept across restarts.
    const dev = Option.isNone(args.config) && !args.demo ? yield* DevMode.ensureCa : undefined
    const defaults =
      dev === undefined
        ? Config.defaultTopology
        : {
            ...Config.defaultTopology,
            web: Config.defaultTopology.web.map((w) => ({ ...w, port: Number(new URL(DevMode.web()).port || 443) })),
            devCa: { certFile: dev.certFile, keyFile: dev.keyFile },
          }
    const loaded = yield* Option.match(args.config, {
      onNone: () => Either.match(Config.decode(defaults, "the default topology"), { onLeft: Effect.fail, onRight: Effect.succeed }),
      onSome: (path) => Config.load(path),
    })
    // All in one process, the dashboard is on: with a fresh token unless the file sets one.
    // Every MMR here stops with the process, so there is nowhere for its participants to move: they are
    // told (roster `leaving`) and get a second, not the grace that lets them move off a lone stopping MMR.
    const config: Config.Config = {
      ...loaded,
      web: loaded.web.map((w) => ({ ...w, opsToken: w.opsToken ?? randomBytes(18).toString("base64url") })),
      timing: { ...loaded.timing, drainGrace: Math.min(Duration.toMillis(Duration.decode(loaded.timing.drainGrace)), 1000) },
    }
    return yield* running(config, { ...args, devCaFile: dev?.certFile }).pipe(Effect.provide(Tracing.layer(config.tracing ?? Tracing.fromEnv(), "up")))
  }).pipe(Effect.scoped, Effect.provide(Logging.layer({ level: "warning" }))),
).pipe(Command.withDescription("Run a whole meetzone topology in one process."))

const running = (
  config: Config.Config,
  args: { readonly nats: Option.Option<string>; readonly demo: boolean; readonly keep: boolean; readonly devCaFile: string | undefined },
) =>
  Effect.gen(function* () {
    const servers = Option.orElse(
      Option.map(args.nats, (urls) => urls.split(",").map((u) => u.trim())),
      () => Option.fromNullable(config.nats.servers),
    )
    const plane = yield* ControlPlane.acquire({
      nats: Option.map(servers, (s) => ({
        servers: s,
        ...(config.nats.user !== undefined ? { user: config.nats.user } : {}),
        ...(config.nats.pass !== undefined ? { pass: config.nats.pass } : {}),
        ...(config.nats.token !== undefined ? { token: config.nats.token } : {}),
        ...(config.nats.credsFile !== undefined ? { credsFile: config.nats.credsFile } : {}),
      })),
      name: "meetzone-up",
      subjects: Protocol.Subjects.make(config.prefix),
      buckets: Protocol.Subjects.buckets(config.prefix),
      ...(config.nats.credsDir !== undefined ? { credsDir: config.nats.credsDir } : {}),
    })
    const context = yield* Layer.build(Layer.merge(plane.layer, Topology.services(config)))
    const topology = yield* Topology.start(config, plane.urls, undefined, Option.getOrUndefined(plane.secured)).pipe(Effect.provide(context))

    let caFile = args.devCaFile
    if (topology.caCert !== undefined && caFile === undefined) {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(joinPath(tmpdir(), "meetzone-up-"))),
        (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
      )
      caFile = joinPath(dir, "ca.pem")
      yield* Effect.promise(() => writeFile(caFile!, topology.caCert!))
    }
    const web = topology.web[0]!
    const metricsUrl = yield* Serve.serveMetrics(config, topology, Topology.actorsOf(config).map(Topology.actorName)).pipe(Effect.provide(context))
    yield* Console.log(
      [
        `meetzone is up — web ${web.url}`,
        `control plane: ${plane.kind === "memory" ? "in-process (no nats-server found)" : `NATS ${plane.urls.join(", ")}${plane.kind === "nats-started" ? " (started for this run)" : ""}${Option.isSome(plane.secured) ? "; auth on: every actor and every join its own identity" : ""}`}`,
        ...topology.lines.map((l) => `  ${l}`),
        ...(caFile !== undefined ? [`clients trust the development CA in ${caFile} (--ca ${caFile})`] : []),
        ...(topology.tunnels.length > 0 ? [`browsers join at ${web.url}/j/<meeting> (through the tunnels)`] : []),
        ...Option.toArray(Option.map(metricsUrl, (u) => `metrics at ${u}/metrics`)),
        `dashboard at ${web.url}/ops#token=${config.web[0]!.opsToken}`,
        ...tryIt(web.url, caFile, args.devCaFile !== undefined),
      ].join("\n"),
    )

    // In-process, clients must share the topology's own bus (a new layer would be a new, empty bus).
    const connector =
      plane.kind === "memory" ? Connector.shared.pipe(Layer.provide(Layer.succeedContext(context))) : Connector.nats
    if (args.demo) {
      yield* demo(web.url, topology.caCert, connector)
      if (Option.isSome(metricsUrl)) yield* showMetrics(metricsUrl.value)
      if (!args.keep) return
    }
    yield* Console.log("press Ctrl-C to stop")
    yield* Effect.never
  })
