/**
 * The multi-host example on one machine: a 3-node NATS cluster, a dev CA
 * from `meetzone dev-ca`, and every actor of examples/multi-host.yaml in its
 * own process (`meetzone web|controller|mmr|tunnel --id …`), made local by
 * environment overrides alone (loopback hosts, free ports, the cluster's
 * URLs). `npm run distributed` deploys it, joins a client through it, prints
 * the join report and each process's /metrics, and stops everything.
 *
 * `deploy` is also what the distributed tests use.
 */
import type { ChildProcess } from "node:child_process"
import { execFile, spawn } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join as joinPath, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Data, Deferred, Duration, Effect, Either, Scope } from "effect"
import * as Config from "../src/topology/config.js"
import * as Topology from "../src/topology/Topology.js"
import * as NatsServer from "../src/transports/nats/server.js"

const root = resolve(fileURLToPath(new URL("..", import.meta.url)))
const meetzone = ["--import", "tsx", joinPath(root, "src/apps/meetzone.ts")]

export class DeployError extends Data.TaggedError("DeployError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/** One actor's process. */
export interface ActorProcess {
  readonly actor: Topology.ActorRef
  /** "mmr eu-west/eu-mmr-1" */
  readonly name: string
  readonly child: ChildProcess
  readonly metricsUrl: string
  /** Its stdout and stderr so far (JSON log lines on stderr). */
  readonly output: () => string
  /** Resolves with the exit code once it has exited. */
  readonly exited: Effect.Effect<number | null>
}

export interface Deployment {
  readonly web: string
  readonly caFile: string
  readonly opsToken: string
  readonly natsUrls: ReadonlyArray<string>
  /** The NATS cluster's nodes (a test may kill and restart one). */
  readonly nats: NatsServer.NatsCluster
  readonly config: Config.Config
  readonly processes: ReadonlyArray<ActorProcess>
  readonly process: (role: Topology.ActorRef["role"], id: string) => ActorProcess
  /** Starts the actor's process again (after a test killed it); `process` then finds the new one. */
  readonly restart: (role: Topology.ActorRef["role"], id: string) => Effect.Effect<ActorProcess, DeployError>
}

export interface DeployOptions {
  /** Default examples/multi-host.yaml. */
  readonly configFile?: string
  /** More overrides (MEETZONE__…), e.g. a shorter drain grace. */
  readonly env?: Readonly<Record<string, string>>
  /** How long each process gets to say it is up. Default 120 s (tsx compiles on start; CI machines are busy). */
  readonly startTimeout?: Duration.DurationInput
}

const OPS_TOKEN = "local-operator-token-for-the-distributed-run"

/** Runs a meetzone command to its end; fails with its stderr. */
export const command = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  Effect.async<{ readonly stdout: string; readonly stderr: string; readonly code: number }>((resume) => {
    const child = execFile(process.execPath, [...meetzone, ...args], { cwd: root, env, timeout: 120_000 }, (error, stdout, stderr) =>
      resume(Effect.succeed({ stdout, stderr, code: error === null ? 0 : typeof error.code === "number" ? error.code : 1 })),
    )
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

/** Starts one actor's process and waits for its "is up" banner. */
const startActor = (
  actor: Topology.ActorRef,
  configFile: string,
  env: NodeJS.ProcessEnv,
  startTimeout: Duration.DurationInput,
): Effect.Effect<ActorProcess, DeployError, Scope.Scope> =>
  Effect.gen(function* () {
    const name = Topology.actorName(actor)
    const id = Topology.actorId(actor)
    let output = ""
    const up = yield* Deferred.make<string, DeployError>()
    const exit = yield* Deferred.make<number | null>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(process.execPath, [...meetzone, actor.role, "--config", configFile, "--id", id], {
          cwd: root,
          env,
          stdio: ["ignore", "pipe", "pipe"],
        })
        const seen = (chunk: Buffer) => {
          output += chunk.toString()
          const metrics = /metrics\s+(http:\/\/\S+)\/metrics/.exec(output)
          if (/ is up \(pid/.test(output) && metrics !== null) Deferred.unsafeDone(up, Effect.succeed(metrics[1]!))
        }
        child.stdout.on("data", seen)
        child.stderr.on("data", (chunk: Buffer) => void (output += chunk.toString()))
        child.on("exit", (code) => {
          Deferred.unsafeDone(exit, Effect.succeed(code))
          Deferred.unsafeDone(up, Effect.fail(new DeployError({ detail: `${name} exited with ${code} before it was up:\n${output}` })))
        })
        return child
      }),
      // Stop what we started, by its PID: SIGTERM (graceful), then SIGKILL if it hangs.
      (child) =>
        Effect.gen(function* () {
          if (child.exitCode !== null || child.signalCode !== null) return
          child.kill("SIGTERM")
          const stopped = yield* Deferred.await(exit).pipe(Effect.timeout("20 seconds"), Effect.option)
          if (stopped._tag === "None") child.kill("SIGKILL")
        }),
    )
    const metricsUrl = yield* Deferred.await(up).pipe(
      Effect.timeoutFail({ duration: startTimeout, onTimeout: () => new DeployError({ detail: `${name} did not come up:\n${output}` }) }),
    )
    return { actor, name, child, metricsUrl, output: () => output, exited: Deferred.await(exit) } satisfies ActorProcess
  })

/**
 * Deploys the multi-host configuration on this machine for the life of the
 * scope: a 3-node NATS cluster and one process per actor.
 */
export const deploy = (options: DeployOptions = {}): Effect.Effect<Deployment, DeployError, Scope.Scope> =>
  Effect.gen(function* () {
    const configFile = options.configFile ?? joinPath(root, "examples/multi-host.yaml")
    const config = yield* Config.load(configFile, {}).pipe(Effect.mapError((e) => new DeployError({ detail: e.message })))
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(joinPath(tmpdir(), "meetzone-distributed-"))),
      (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
    )
    // NATS with auth on, as operators would run it: identities from `meetzone nats-auth init`, the servers told to trust them.
    const auth = joinPath(dir, "nats-auth")
    const [ca, identities] = yield* Effect.all([command(["dev-ca", "--out", dir]), command(["nats-auth", "init", "--config", configFile, "--out", auth])], {
      concurrency: "unbounded",
    })
    if (ca.code !== 0) return yield* new DeployError({ detail: `meetzone dev-ca failed: ${ca.stderr}` })
    if (identities.code !== 0) return yield* new DeployError({ detail: `meetzone nats-auth init failed: ${identities.stderr}` })
    const serverAuth = (yield* Effect.promise(() => readFile(joinPath(auth, "nats-server.conf"), "utf8"))).split("\n").filter((l) => !l.startsWith("#"))
    const cluster = yield* NatsServer.startCluster(3, { auth: serverAuth }).pipe(Effect.mapError((e) => new DeployError({ detail: e.message })))

    // Loopback everything, on free ports the client can be told in advance.
    const webPort = yield* NatsServer.freePort()
    const tunnelPorts = yield* Effect.forEach(config.tunnels, () => NatsServer.freePort())
    const overrides: Record<string, string> = {
      MEETZONE__NATS__SERVERS: JSON.stringify(cluster.urls),
      MEETZONE__NATS__CREDS_DIR: auth,
      MEETZONE__DEV_CA__CERT_FILE: joinPath(dir, "ca.pem"),
      MEETZONE__DEV_CA__KEY_FILE: joinPath(dir, "ca-key.pem"),
      MEETZONE__METRICS__HOST: "127.0.0.1",
      MEETZONE__METRICS__PORT: "0",
      MEETZONE__WEB__0__HOST: "127.0.0.1",
      MEETZONE__WEB__0__PORT: String(webPort),
      MEETZONE__WEB__0__PUBLIC_URL: `https://127.0.0.1:${webPort}`,
      MEETZONE__WEB__0__TRUSTED_PROXIES: "[loopback]",
      MEETZONE__WEB__0__OPS_TOKEN: OPS_TOKEN,
      MEETZONE__TOKEN_SECRET: "distributed-run-".repeat(3),
    }
    config.zones.forEach((z, i) =>
      z.mmrs.forEach((_, j) => {
        const at = `MEETZONE__ZONES__${i}__MMRS__${j}__`
        Object.assign(overrides, { [`${at}BIND_HOST`]: "127.0.0.1", [`${at}ADVERTISE_HOST`]: "127.0.0.1", [`${at}MEDIA_PORT`]: "0", [`${at}TLS_PORT`]: "0" })
      }),
    )
    config.tunnels.forEach((_, i) =>
      Object.assign(overrides, {
        [`MEETZONE__TUNNELS__${i}__HOST`]: "127.0.0.1",
        [`MEETZONE__TUNNELS__${i}__PORT`]: String(tunnelPorts[i]),
        [`MEETZONE__TUNNELS__${i}__PUBLIC_URL`]: `wss://127.0.0.1:${tunnelPorts[i]}/tunnel`,
      }),
    )
    const env = { ...process.env, ...overrides, ...options.env, MEETZONE_LOG_FORMAT: "json" }
    // The same overrides, read the way each process reads them: a typo here fails now, not in 11 processes.
    const local = yield* Config.load(configFile, env).pipe(Effect.mapError((e) => new DeployError({ detail: e.message })))

    // Controllers and MMRs first (web lookups rank zones by live controllers), then the rest.
    const actors = Topology.actorsOf(local)
    const startTimeout = options.startTimeout ?? "120 seconds"
    const inner = yield* Effect.forEach(
      actors.filter((a) => a.role === "controller" || a.role === "mmr"),
      (a) => startActor(a, configFile, env, startTimeout),
      { concurrency: "unbounded" },
    )
    const outer = yield* Effect.forEach(
      actors.filter((a) => a.role === "web" || a.role === "tunnel"),
      (a) => startActor(a, configFile, env, startTimeout),
      { concurrency: "unbounded" },
    )
    const processes = [...inner, ...outer]
    const scope = yield* Effect.scope
    const find = (role: Topology.ActorRef["role"], id: string) =>
      processes.findIndex((p) => p.actor.role === role && (p.actor.id === id || Topology.actorId(p.actor) === id))
    return {
      web: `https://127.0.0.1:${webPort}`,
      caFile: joinPath(dir, "ca.pem"),
      opsToken: OPS_TOKEN,
      natsUrls: cluster.urls,
      nats: cluster,
      config: local,
      processes,
      process: (role, id) => {
        const found = processes[find(role, id)]
        if (found === undefined) throw new Error(`no ${role} ${id} in the deployment`)
        return found
      },
      restart: (role, id) =>
        Effect.gen(function* () {
          const at = find(role, id)
          if (at < 0) return yield* new DeployError({ detail: `no ${role} ${id} in the deployment` })
          const again = yield* startActor(processes[at]!.actor, configFile, env, startTimeout).pipe(Scope.extend(scope))
          processes[at] = again
          return again
        }),
    } satisfies Deployment
  })

/** `npm run distributed`: deploy, join a client, show what each process counted, stop. */
const main = Effect.gen(function* () {
  const started = Date.now()
  const deployment = yield* deploy()
  console.log(`deployed in ${((Date.now() - started) / 1000).toFixed(1)} s: NATS ${deployment.natsUrls.join(", ")}`)
  for (const p of deployment.processes) console.log(`  pid ${p.child.pid}  ${p.name.padEnd(28)} metrics ${p.metricsUrl}/metrics`)
  const created = yield* command(["meeting", "create", "--web", deployment.web, "--ca", deployment.caFile, "--topic", "distributed run"])
  const meeting = created.stdout.trim().split(/\s+/)[0]!
  console.log(`\nmeeting ${meeting}; a client joins through the processes above:`)
  const join = yield* command(["client", "join", meeting, "--web", deployment.web, "--ca", deployment.caFile, "--name", "Ada", "--media", "audio,video", "--duration", "2"])
  console.log(join.stdout, join.stderr)
  console.log(`dashboard: ${deployment.web}/ops#token=${deployment.opsToken}`)
  for (const p of deployment.processes) {
    const text = yield* Effect.promise(() => fetch(`${p.metricsUrl}/metrics`).then((r) => r.text()))
    const lines = text.split("\n").filter((l) => /^meetzone_(joins_total|probes_total|placements_total|mmr_packets_total|join_info_total)/.test(l) && !l.endsWith(" 0"))
    if (lines.length > 0) console.log(`${p.name}:\n${lines.map((l) => `  ${l}`).join("\n")}`)
  }
  console.log("\nstopping every process (SIGTERM)…")
  return join.code
}).pipe(Effect.scoped)

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  Effect.runPromise(Effect.either(main)).then((result) => {
    if (Either.isLeft(result)) console.error(result.left.message)
    process.exit(Either.isLeft(result) ? 1 : result.right)
  })
}
