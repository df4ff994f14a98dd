/**
 * `meetzone mmr --id <group>` for an MMR with `workers: n`: this process
 * starts n worker processes (`meetzone mmr --id <group>-w<k>`, each a whole
 * MMR on its own core) and keeps them running:
 *
 *   a worker exits without being asked  → logged, started again after
 *                                         timing.workerRestart, doubling
 *                                         while it keeps crashing (to 30 s)
 *   a worker freezes (SIGSTOP, a hang):  → killed and started again: each
 *     no heartbeat for timing.workerStall  sends one over IPC every 500 ms
 *                                         (watched from its first)
 *   SIGTERM / SIGINT here                → SIGTERM to every worker (each
 *                                         drains its participants), wait,
 *                                         SIGKILL after drainGrace + 10 s
 *   this process dies (even SIGKILL)     → each worker sees its IPC channel
 *                                         close and stops itself gracefully
 *
 * The restart policy is pure (`restartDelay`), so it is tested without
 * waiting.
 *
 * @since 0.6.0
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { Clock, Console, Duration, Effect, Fiber } from "effect"

/** @category models */
export interface SupervisorOptions {
  /** How operators name the group, e.g. `eu-west/eu-mmr-1`. */
  readonly group: string
  /** The workers' `--id`s, e.g. `eu-west/eu-mmr-1-w1`. */
  readonly workers: ReadonlyArray<string>
  /** The command line that runs one worker (`index` from 1), and what it adds to the environment. */
  readonly command: (
    worker: string,
    index: number,
  ) => { readonly file: string; readonly args: ReadonlyArray<string>; readonly env?: Readonly<Record<string, string>> }
  /** The first restart's delay (doubling per consecutive crash). */
  readonly restartDelay: Duration.DurationInput
  /** How long a stopping worker may take before it is killed. */
  readonly stopGrace: Duration.DurationInput
  /** A worker silent this long after its first heartbeat is frozen: killed (and so started again). */
  readonly stall: Duration.DurationInput
}

/** Between a worker's heartbeats to its supervisor. */
export const HEARTBEAT_MS = 500

/** The longest wait before a restart; a worker that ran this long counts as healthy again. */
export const maxRestartDelay = Duration.seconds(30)

/**
 * How long to wait before starting a worker again after its `crashes`-th
 * consecutive crash (1, 2, …): `initial`, doubling, at most 30 s.
 *
 * @category policy
 */
export const restartDelay = (crashes: number, initial: Duration.DurationInput): Duration.Duration =>
  Duration.min(Duration.times(Duration.decode(initial), 2 ** Math.min(Math.max(crashes, 1) - 1, 16)), maxRestartDelay)

const describeExit = (code: number | null, signal: NodeJS.Signals | null) =>
  signal !== null ? `was killed by ${signal}` : `exited with code ${code}`

/**
 * One run of a worker: resolves when it exits. Interrupted, it stops the
 * worker (SIGTERM, then SIGKILL after `stopGrace`) and waits for it.
 */
const runOnce = (options: SupervisorOptions, worker: string, index: number, started: (child: ChildProcess) => void) =>
  Effect.async<{ readonly pid: number | undefined; readonly how: string }>((resume) => {
    const { file, args, env } = options.command(worker, index)
    // The IPC channel is how a worker learns that its supervisor is gone.
    const child = spawn(file, [...args], { stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, ...env } })
    let exited = false
    // The watchdog: silence after the first heartbeat is a frozen worker (it cannot be asked to stop: kill it).
    let heard: number | undefined
    let frozen = false
    const stallMs = Duration.toMillis(options.stall)
    child.on("message", () => void (heard = performance.now()))
    const watchdog = setInterval(() => {
      if (heard === undefined || frozen || performance.now() - heard <= stallMs) return
      frozen = true
      child.kill("SIGKILL")
    }, Math.min(250, stallMs))
    child.once("exit", (code, signal) => {
      exited = true
      clearInterval(watchdog)
      const how = frozen ? `sent no heartbeat for ${Duration.format(options.stall)} (frozen) and was killed` : describeExit(code, signal)
      resume(Effect.succeed({ pid: child.pid, how }))
    })
    child.once("error", (e) => {
      if (!exited) resume(Effect.succeed({ pid: child.pid, how: `could not start: ${e.message}` }))
    })
    started(child)
    return Effect.async<void>((done) => {
      if (exited || child.exitCode !== null || child.signalCode !== null) return done(Effect.void)
      child.once("exit", () => done(Effect.void))
      child.kill("SIGTERM")
      const kill = setTimeout(() => child.kill("SIGKILL"), Duration.toMillis(options.stopGrace))
      child.once("exit", () => clearTimeout(kill))
    })
  })

/** Keeps one worker running until interrupted. */
const keep = (options: SupervisorOptions, worker: string, index: number, pids: Map<string, number | undefined>) =>
  Effect.gen(function* () {
    let crashes = 0
    for (;;) {
      const startedAt = yield* Clock.currentTimeMillis
      const exit = yield* runOnce(options, worker, index, (child) => void pids.set(worker, child.pid))
      const ranFor = (yield* Clock.currentTimeMillis) - startedAt
      crashes = ranFor >= Duration.toMillis(maxRestartDelay) ? 1 : crashes + 1
      const delay = restartDelay(crashes, options.restartDelay)
      yield* Effect.logError(`mmr worker ${worker} (pid ${exit.pid}) ${exit.how}; starting it again in ${Duration.format(delay)}`)
      yield* Effect.sleep(delay)
    }
  })

/**
 * Runs the group until interrupted, then stops every worker and waits for
 * them.
 *
 * @category running
 */
export const supervise = (options: SupervisorOptions): Effect.Effect<never> =>
  Effect.gen(function* () {
    const pids = new Map<string, number | undefined>()
    const fiber = yield* Effect.forkDaemon(Effect.forEach(options.workers, (w, i) => keep(options, w, i + 1, pids), { concurrency: "unbounded", discard: true }))
    yield* Effect.yieldNow()
    yield* Console.log(
      [
        `meetzone mmr group ${options.group} is up (pid ${process.pid}): ${options.workers.length} workers, one process each`,
        ...options.workers.map((w) => `  worker ${w}${pids.get(w) !== undefined ? ` (pid ${pids.get(w)})` : ""}`),
      ].join("\n"),
    )
    yield* Effect.logInfo(`mmr group ${options.group} running; SIGTERM or SIGINT stops every worker gracefully`)
    return yield* Effect.onInterrupt(Effect.never, () =>
      Effect.zipRight(Effect.logInfo(`mmr group ${options.group}: stopping its workers`), Fiber.interrupt(fiber)),
    )
  })

/**
 * In a worker: stop gracefully when the supervisor is gone (its IPC channel
 * closed), as on SIGTERM; and send the supervisor a heartbeat every 500 ms.
 *
 * @category running
 */
export const stopWithSupervisor = (): void => {
  if (process.send === undefined || process.channel === undefined) return
  // The channel alone must not keep a stopped worker alive.
  process.channel.unref()
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"))
  // Heartbeats: a worker whose event loop stops (frozen, hung) goes silent, and its supervisor replaces it.
  // A callback, so that a send after the channel closed is an ignored error, not an 'error' event.
  const beat = () => void (process.connected && process.send?.("alive", undefined, undefined, () => {}))
  beat()
  setInterval(beat, HEARTBEAT_MS).unref()
}
