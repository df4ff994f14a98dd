/**
 * One actor per process: `meetzone web | controller | mmr | tunnel --config
 * FILE [--id ID]`. The configuration is decoded (environment overrides
 * included) before any port is bound; the process then runs its actor over
 * NATS until SIGINT or SIGTERM, and stops gracefully: it takes no new work,
 * an MMR asks its participants to move and waits for them (timing.drainGrace),
 * presence keys are removed. Each process serves /metrics.
 *
 * Also `meetzone dev-ca --out DIR`: a development CA that every process of a
 * deployment issues its certificates from (config `devCa`), so clients trust
 * one file.
 *
 * @since 0.1.0
 */
import { chmod, mkdir, writeFile } from "node:fs/promises"
import { join as joinPath } from "node:path"
import { Command, Options } from "@effect/cli"
import { Console, Data, Duration, Effect, Layer, Option } from "effect"
import { Config, ControlPlane, JoinTokens, MmrWorkers, Protocol, Tls, Topology } from "../index.js"
import * as MmrSupervisor from "./mmr-supervisor.js"
import * as Logging from "./logging.js"
import * as Metrics from "./metrics.js"
import * as OpsServer from "./ops-server.js"
import * as Tracing from "./tracing.js"

/** @category errors */
export class NoSuchActor extends Data.TaggedError("NoSuchActor")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

type Role = Topology.ActorRef["role"]

const configOption = Options.file("config", { exists: "yes" }).pipe(Options.withDescription("the deployment's configuration (YAML or JSON)"))
const idOption = (role: Role) =>
  Options.text("id").pipe(
    Options.withDescription(
      role === "controller" || role === "mmr"
        ? `which ${role} of the configuration to run: its id, or zone/id (optional when there is only one)`
        : `which ${role} of the configuration to run (optional when there is only one)`,
    ),
    Options.optional,
  )

/** The one actor of `role` that `id` names in `config`. */
export const pick = (config: Config.Config, role: Role, id: Option.Option<string>): Effect.Effect<Topology.ActorRef, NoSuchActor> => {
  const candidates = Topology.actorsOf(config).filter((a) => a.role === role)
  const matches = Option.match(id, {
    onNone: () => candidates,
    onSome: (wanted) => candidates.filter((a) => a.id === wanted || Topology.actorId(a) === wanted),
  })
  if (matches.length === 1) return Effect.succeed(matches[0]!)
  const listed = candidates.map(Topology.actorId).join(", ") || "none"
  return Effect.fail(
    new NoSuchActor({
      detail:
        matches.length === 0
          ? `no ${role} ${Option.getOrElse(id, () => "")} in the configuration (${role}s: ${listed})`.replace("  ", " ")
          : `${Option.isSome(id) ? `"${id.value}" names` : "the configuration has"} ${matches.length} ${role}s (${matches.map(Topology.actorId).join(", ")}): pass --id ${role === "controller" || role === "mmr" ? "zone/id" : "ID"}`,
    }),
  )
}

/** NATS is how processes find each other; one actor alone on an in-process bus would be pointless. */
const natsOf = (config: Config.Config) =>
  Option.match(Option.fromNullable(config.nats.servers), {
    onNone: () =>
      Effect.fail(
        new Config.ConfigError({
          source: "the configuration",
          problems: [{ path: "nats.servers", message: "required to run one actor per process (or set MEETZONE__NATS__SERVERS)" }],
        }),
      ),
    onSome: (servers) =>
      Effect.succeed({
        servers,
        ...(config.nats.user !== undefined ? { user: config.nats.user } : {}),
        ...(config.nats.pass !== undefined ? { pass: config.nats.pass } : {}),
        ...(config.nats.token !== undefined ? { token: config.nats.token } : {}),
        ...(config.nats.credsFile !== undefined ? { credsFile: config.nats.credsFile } : {}),
      }),
  })

/**
 * Serves /metrics for what `topology` runs, when the configuration enables
 * it; returns its URL.
 *
 * @category operations
 */
export const serveMetrics = (config: Config.Config, topology: Topology.Topology, actors: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    if (!config.metrics.enabled) return Option.none<string>()
    const tokens = yield* Effect.serviceOption(JoinTokens.JoinTokens)
    const metrics = yield* Effect.acquireRelease(Effect.sync(() => Metrics.registry(topology, Option.getOrUndefined(tokens))), (m) => Effect.sync(m.close))
    const server = yield* OpsServer.serve({ host: config.metrics.host, port: config.metrics.port, registry: metrics.registry, actors })
    return Option.some(server.url)
  })

/**
 * The MMR with workers that `id` names (its configured id, or zone/id; or the
 * only MMR, when `id` is absent and it has workers): its workers' `--id`s.
 */
export const pickGroup = (config: Config.Config, id: Option.Option<string>): Option.Option<{ readonly group: string; readonly workers: ReadonlyArray<string> }> => {
  const groups = config.zones.flatMap((z) => z.mmrs.map((m) => ({ zone: z.id, mmr: m, workers: MmrWorkers.of(m) })))
  const matches = Option.match(id, {
    onNone: () => (groups.length === 1 ? groups : []),
    onSome: (wanted) => groups.filter((g) => g.mmr.id === wanted || `${g.zone}/${g.mmr.id}` === wanted),
  })
  const only = matches.length === 1 ? matches[0]! : undefined
  if (only === undefined || only.workers.length === 1) return Option.none()
  return Option.some({ group: `${only.zone}/${only.mmr.id}`, workers: only.workers.map((w) => `${only.zone}/${w.id}`) })
}

/** The group's supervisor: one worker process per worker, run with this process's own Node and entry point. */
const superviseGroup = (config: Config.Config, configPath: string, group: { readonly group: string; readonly workers: ReadonlyArray<string> }) =>
  MmrSupervisor.supervise({
    ...group,
    command: (worker, index) => ({
      file: process.execPath,
      args: [...process.execArgv, process.argv[1]!, "mmr", "--config", configPath, "--id", worker],
      // Worker n serves /metrics on metrics.port + n - 1, as its media ports are numbered (0 stays any free port).
      ...(config.metrics.port !== 0 ? { env: { MEETZONE__METRICS__PORT: String(config.metrics.port + index - 1) } } : {}),
    }),
    restartDelay: config.timing.workerRestart,
    stall: config.timing.workerStall,
    stopGrace: Duration.sum(Duration.decode(config.timing.drainGrace), Duration.seconds(10)),
  }).pipe(Effect.provide(Logging.layer({ level: "info", format: "json" })))

const run = (role: Role) => (args: { readonly config: string; readonly id: Option.Option<string> }) =>
  Effect.gen(function* () {
    // Everything that can be wrong with the configuration is found before a port is bound.
    const config = yield* Config.load(args.config)
    const group = role === "mmr" ? pickGroup(config, args.id) : Option.none()
    if (Option.isSome(group)) return yield* superviseGroup(config, args.config, group.value)
    if (role === "mmr") MmrSupervisor.stopWithSupervisor()
    const actor = yield* pick(config, role, args.id)
    const nats = yield* natsOf(config)
    if (config.tokenSecret === undefined) {
      return yield* new Config.ConfigError({
        source: args.config,
        problems: [{ path: "tokenSecret", message: "required when actors run in separate processes: they must verify each other's join tokens" }],
      })
    }
    const name = Topology.actorName(actor)
    return yield* Effect.gen(function* () {
      const plane = yield* ControlPlane.acquire({
        nats: Option.some({ ...nats, name: `meetzone-${role}-${actor.id}` }),
        name: `meetzone-${role}-${actor.id}`,
        subjects: Protocol.Subjects.make(config.prefix),
        buckets: Protocol.Subjects.buckets(config.prefix),
        ...(config.nats.credsDir !== undefined ? { credsDir: config.nats.credsDir } : {}),
      })
      // With a credentials directory the actor connects with its own identity from it (and the plane's layer is not used).
      const secured = Option.getOrUndefined(plane.secured)
      if (secured !== undefined) yield* secured.actorCreds(actor) // a missing identity is said before anything starts
      const context = yield* Layer.build(Layer.merge(plane.layer, Topology.services(config)))
      const topology = yield* Topology.start(config, nats.servers, (a) => a.role === actor.role && a.id === actor.id && a.zone === actor.zone, secured).pipe(
        Effect.provide(context),
      )
      const metricsUrl = yield* serveMetrics(config, topology, [name]).pipe(Effect.provide(context))
      yield* Console.log(
        [
          `meetzone ${name} is up (pid ${process.pid}); NATS ${nats.servers.join(", ")}`,
          ...topology.lines.map((l) => `  ${l}`),
          ...Option.toArray(Option.map(metricsUrl, (u) => `  metrics          ${u}/metrics`)),
        ].join("\n"),
      )
      yield* Effect.logInfo(`${name} running; SIGTERM or SIGINT stops it gracefully`)
      yield* Effect.onInterrupt(Effect.never, () => Effect.logInfo(`${name}: stopping`))
    }).pipe(Effect.scoped, Effect.provide(Tracing.layer(config.tracing ?? Tracing.fromEnv(), role)))
  }).pipe(Effect.provide(Logging.layer({ level: "info", format: "json" })))

const describe: Record<Role, string> = {
  web: "Run one web lookup (HTTPS: meetings, join info, the web client, the operators' dashboard).",
  controller: "Run one zone controller (probes, MMR placement).",
  mmr: "Run one MMR (media router), or an MMR's workers (one process each) when it has `workers`; on SIGTERM its participants move to another MMR before it stops.",
  tunnel: "Run one HTTP tunnel (a whole client session inside one TLS connection).",
}

const actorCommand = (role: Role) =>
  Command.make(role, { config: configOption, id: idOption(role) }, run(role)).pipe(Command.withDescription(describe[role]))

export const web = actorCommand("web")
export const controller = actorCommand("controller")
export const mmr = actorCommand("mmr")
export const tunnel = actorCommand("tunnel")

export const devCa = Command.make(
  "dev-ca",
  { out: Options.directory("out").pipe(Options.withDescription("folder for ca.pem and ca-key.pem (created if missing)")) },
  ({ out }) =>
    Effect.gen(function* () {
      const ca = yield* Tls.devCa()
      yield* Effect.promise(async () => {
        await mkdir(out, { recursive: true })
        await writeFile(joinPath(out, "ca.pem"), ca.cert)
        await writeFile(joinPath(out, "ca-key.pem"), ca.key, { mode: 0o600 })
        await chmod(joinPath(out, "ca-key.pem"), 0o600)
      })
      yield* Console.log(
        [
          `wrote ${joinPath(out, "ca.pem")} and ${joinPath(out, "ca-key.pem")} (private: mode 600)`,
          `in the configuration:  devCa: { certFile: ${joinPath(out, "ca.pem")}, keyFile: ${joinPath(out, "ca-key.pem")} }`,
          `clients:               meetzone client join … --ca ${joinPath(out, "ca.pem")}`,
        ].join("\n"),
      )
    }),
).pipe(Command.withDescription("Create a development CA that every process of a deployment issues its certificates from."))
