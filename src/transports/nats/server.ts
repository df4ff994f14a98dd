/**
 * Starts real `nats-server` processes — one, or a JetStream cluster — on free
 * loopback ports with their state in a temp dir, and stops them (by their own
 * PID) when the scope closes. Used by `meetzone up` and by the test harness.
 *
 * @since 0.1.0
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { Data, Deferred, Effect, ExecutionStrategy, Exit, Option, Schedule, Scope } from "effect"

/**
 * @category errors
 */
export class NatsServerError extends Data.TaggedError("NatsServerError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/**
 * Where the binary is: `$NATS_SERVER_BIN` when set (the operator's word is
 * final; `none` means there is none), else PATH, then Debian's /usr/sbin.
 *
 * @category discovery
 */
export const findBinary = (): Option.Option<string> => {
  const fromEnv = process.env["NATS_SERVER_BIN"]
  if (fromEnv !== undefined && fromEnv !== "") return existsSync(fromEnv) ? Option.some(fromEnv) : Option.none()
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin"]
  for (const dir of dirs) {
    if (dir === "") continue
    const candidate = join(dir, "nats-server")
    if (existsSync(candidate)) return Option.some(candidate)
  }
  return Option.none()
}

/**
 * A free TCP port on `host`, as the kernel hands one out for port 0.
 *
 * @category ports
 */
export const freePort = (host = "127.0.0.1"): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    const server = createServer()
    server.unref()
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/**
 * A running nats-server.
 *
 * @category models
 */
export interface NatsServerProcess {
  readonly name: string
  readonly url: string
  readonly port: number
  readonly monitorPort: number
  readonly pid: number
  /** True until the process exits. */
  readonly running: Effect.Effect<boolean>
  /** SIGKILL: a crash, for fault tests. */
  readonly kill: Effect.Effect<void>
  /** Starts it again with the same ports, name and store (after `kill`). */
  readonly restart: Effect.Effect<void, NatsServerError>
}

/**
 * @category models
 */
export interface NatsServerOptions {
  /** The nats-server binary. Default NATS_SERVER_BIN, else the first on PATH, /usr/sbin, /usr/local/sbin, /usr/local/bin. */
  readonly binary?: string
  /** The address it listens on. Default 127.0.0.1. */
  readonly host?: string
  /** JetStream on (the KV buckets need it). Default true. */
  readonly jetstream?: boolean
  /** Bound on the wait for readiness. Default 20 s. */
  readonly readyTimeoutMs?: number
  /** Configuration lines that turn on auth (`Auth.serverConfig`): anonymous connections are then refused. */
  readonly auth?: ReadonlyArray<string>
  /** A certificate and key (PEM): clients must then connect over TLS. */
  readonly tls?: {
    /** The server's certificate (PEM). */
    readonly cert: string
    /** Its key (PEM). */
    readonly key: string
  }
}

interface NodePlan {
  readonly name: string
  readonly host: string
  readonly port: number
  readonly monitorPort: number
  readonly clusterPort: number | undefined
  readonly routes: ReadonlyArray<string>
  readonly storeDir: string
  readonly configFile: string
}

const configText = (plan: NodePlan, jetstream: boolean, clusterName: string | undefined, auth: ReadonlyArray<string>): string => {
  const lines = [
    `server_name: ${plan.name}`,
    `listen: "${plan.host}:${plan.port}"`,
    `http: "${plan.host}:${plan.monitorPort}"`,
    ...auth,
  ]
  if (jetstream) lines.push(`jetstream { store_dir: "${plan.storeDir}" }`)
  if (plan.clusterPort !== undefined && clusterName !== undefined) {
    lines.push(
      `cluster {`,
      `  name: ${clusterName}`,
      `  listen: "${plan.host}:${plan.clusterPort}"`,
      `  routes: [${plan.routes.map((r) => `"${r}"`).join(", ")}]`,
      `}`,
    )
  }
  return lines.join("\n") + "\n"
}

const waitHealthy = (host: string, monitorPort: number, timeoutMs: number) =>
  Effect.tryPromise({
    try: async (signal) => {
      const res = await fetch(`http://${host}:${monitorPort}/healthz`, { signal })
      if (!res.ok) throw new Error(`healthz ${res.status}: ${await res.text()}`)
    },
    catch: (e) => new NatsServerError({ detail: String(e) }),
  }).pipe(
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutFail({
      duration: timeoutMs,
      onTimeout: () => new NatsServerError({ detail: `nats-server on ${host}:${monitorPort} not healthy in ${timeoutMs} ms` }),
    }),
  )

/**
 * On Linux, util-linux's setpriv asks the kernel to send SIGTERM to the server
 * when this process dies for any reason (even SIGKILL), then execs the server
 * in its own place (same PID). Without it, a test worker killed mid-run would
 * leave its nats-server behind.
 */
const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p))

/** Servers still running, stopped if this process exits before their scopes close. */
const running = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

/** Spawns one process and waits for "Server is ready"; the scope kills it. */
const spawnNode = (binary: string, plan: NodePlan, readyTimeoutMs: number) =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<void, NatsServerError>()
    const tail: Array<string> = []
    const [command, args] =
      setpriv !== undefined
        ? [setpriv, ["--pdeathsig", "SIGTERM", "--", binary, "-c", plan.configFile]]
        : [binary, ["-c", plan.configFile]]
    // Its own process group: a terminal's Ctrl-C (SIGINT to the whole group) must not stop it before
    // the processes using it have stopped gracefully; they stop it (and pdeathsig / exit below if they die).
    const child: ChildProcess = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], detached: true })
    running.add(child)
    child.once("exit", () => running.delete(child))
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    child.stderr!.setEncoding("utf8")
    child.stderr!.on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) if (line.trim() !== "") tail.push(line)
      if (tail.length > 40) tail.splice(0, tail.length - 40)
      if (chunk.includes("Server is ready")) Deferred.unsafeDone(ready, Effect.void)
    })
    child.once("error", (e) => Deferred.unsafeDone(ready, Effect.fail(new NatsServerError({ detail: String(e) }))))
    child.once("exit", (code, signal) =>
      Deferred.unsafeDone(
        ready,
        Effect.fail(
          new NatsServerError({
            detail: `nats-server ${plan.name} exited (${code ?? signal}) before ready:\n${tail.join("\n")}`,
          }),
        ),
      ),
    )
    yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: readyTimeoutMs,
        onTimeout: () => new NatsServerError({ detail: `nats-server ${plan.name} not ready in ${readyTimeoutMs} ms` }),
      }),
      Effect.onError(() => Effect.sync(() => child.kill("SIGKILL"))),
    )
    return { child, exited }
  })

const stopChild = (child: ChildProcess, exited: Promise<void>) =>
  Effect.gen(function* () {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill("SIGTERM")
    const done = yield* Effect.promise(() => exited).pipe(Effect.timeout("5 seconds"), Effect.option)
    if (Option.isNone(done)) {
      child.kill("SIGKILL")
      yield* Effect.promise(() => exited)
    }
  })

/**
 * Starts the nodes; once more, on fresh ports, when they do not come up:
 * between choosing a free port and the server binding it, another process
 * on a busy machine may take it (a cluster node then never finds its routes).
 */
const startNodes = (size: number, options: NatsServerOptions) =>
  Effect.gen(function* () {
    const outer = yield* Effect.scope
    const attempt = Effect.gen(function* () {
      const inner = yield* Scope.fork(outer, ExecutionStrategy.sequential)
      return yield* startNodesOnce(size, options).pipe(
        Scope.extend(inner),
        Effect.onError((cause) => Scope.close(inner, Exit.failCause(cause))),
      )
    })
    return yield* attempt.pipe(Effect.retry({ times: 1, while: (e) => e._tag === "NatsServerError" && !e.detail.includes("not found on PATH") }))
  })

const startNodesOnce = (size: number, options: NatsServerOptions) =>
  Effect.gen(function* () {
    const binary = options.binary ?? Option.getOrUndefined(findBinary())
    if (binary === undefined) {
      return yield* new NatsServerError({
        detail: "nats-server not found on PATH or in /usr/sbin (install it: apt-get install nats-server, or set NATS_SERVER_BIN)",
      })
    }
    const host = options.host ?? "127.0.0.1"
    const jetstream = options.jetstream ?? true
    const readyTimeoutMs = options.readyTimeoutMs ?? 20_000
    const clustered = size > 1
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "meetzone-nats-"))),
      (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
    )
    const ports = yield* Effect.forEach(Array.from({ length: size }), () =>
      Effect.all({ port: freePort(host), monitorPort: freePort(host), clusterPort: freePort(host) }),
    )
    const plans: Array<NodePlan> = ports.map((p, i) => ({
      name: `n${i + 1}`,
      host,
      port: p.port,
      monitorPort: p.monitorPort,
      clusterPort: clustered ? p.clusterPort : undefined,
      routes: clustered ? ports.filter((_, j) => j !== i).map((q) => `nats://${host}:${q.clusterPort}`) : [],
      storeDir: join(dir, `n${i + 1}`),
      configFile: join(dir, `n${i + 1}.conf`),
    }))
    const tlsLines: Array<string> = []
    if (options.tls !== undefined) {
      const [certFile, keyFile] = [join(dir, "server-cert.pem"), join(dir, "server-key.pem")]
      yield* Effect.promise(() => Promise.all([writeFile(certFile, options.tls!.cert), writeFile(keyFile, options.tls!.key, { mode: 0o600 })]))
      tlsLines.push(`tls {`, `  cert_file: "${certFile}"`, `  key_file: "${keyFile}"`, `}`)
    }
    yield* Effect.forEach(plans, (plan) =>
      Effect.promise(() =>
        writeFile(plan.configFile, configText(plan, jetstream, clustered ? "meetzone" : undefined, [...(options.auth ?? []), ...tlsLines])),
      ),
    )

    const scope = yield* Effect.scope
    const nodes = yield* Effect.forEach(
      plans,
      (plan) =>
        Effect.gen(function* () {
          let current = yield* spawnNode(binary, plan, readyTimeoutMs)
          yield* Scope.addFinalizer(scope, Effect.suspend(() => stopChild(current.child, current.exited)))
          const node: NatsServerProcess = {
            name: plan.name,
            url: `nats://${host}:${plan.port}`,
            port: plan.port,
            monitorPort: plan.monitorPort,
            get pid() {
              return current.child.pid ?? -1
            },
            running: Effect.sync(() => current.child.exitCode === null && current.child.signalCode === null),
            kill: Effect.suspend(() => {
              current.child.kill("SIGKILL")
              return Effect.promise(() => current.exited)
            }),
            restart: Effect.gen(function* () {
              yield* stopChild(current.child, current.exited)
              current = yield* spawnNode(binary, plan, readyTimeoutMs)
            }),
          }
          return node
        }),
      { concurrency: "unbounded" },
    )
    // JetStream in a cluster needs a meta leader before any bucket can be made.
    if (jetstream) {
      yield* Effect.forEach(plans, (p) => waitHealthy(host, p.monitorPort, readyTimeoutMs), { concurrency: "unbounded" })
    }
    return nodes
  })

/**
 * One nats-server (JetStream on by default) for the life of the scope.
 *
 * @category constructors
 */
export const start = (options: NatsServerOptions = {}): Effect.Effect<NatsServerProcess, NatsServerError, Scope.Scope> =>
  Effect.map(startNodes(1, options), (nodes) => nodes[0]!)

/**
 * @category models
 */
export interface NatsCluster {
  readonly nodes: ReadonlyArray<NatsServerProcess>
  /** Every node's client URL, for a client that should fail over between them. */
  readonly urls: ReadonlyArray<string>
}

/**
 * A JetStream cluster of `size` nodes (3 by default) on loopback.
 *
 * @category constructors
 */
export const startCluster = (
  size = 3,
  options: NatsServerOptions = {},
): Effect.Effect<NatsCluster, NatsServerError, Scope.Scope> =>
  Effect.map(startNodes(size, options), (nodes) => ({ nodes, urls: nodes.map((n) => n.url) }))
