/**
 * `meetzone up` (or anything that prints its banner) as a process of its
 * own, in a process group of its own as a terminal runs a job; and what is
 * below a process in /proc. Everything it started is SIGKILLed (by PID) when
 * the test's scope ends, whatever the test did.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { Deferred, Effect } from "effect"

/** A process's state letter from /proc, or undefined when it is gone. */
export const stateOf = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0]
  } catch {
    return undefined
  }
}
export const alive = (pid: number) => {
  const s = stateOf(pid)
  return s !== undefined && s !== "Z"
}

/** Every process below `root` (by parent links in /proc), at this moment. */
export const descendants = (root: number): ReadonlyArray<number> => {
  const parent = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")
      parent.set(Number(entry), Number(stat[1]))
    } catch {
      // gone meanwhile
    }
  }
  const below: Array<number> = []
  const walk = (pid: number) => {
    for (const [child, p] of parent) if (p === pid) (below.push(child), walk(child))
  }
  walk(root)
  return below
}

/** `command` in a process group of its own (as a terminal runs a job), until it prints the banner. */
export const startUp = (command: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<string, Error>()
    const exited = yield* Deferred.make<{ code: number | null; at: number }>()
    let output = ""
    const child: ChildProcess = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(command, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })
        const take = (chunk: Buffer) => {
          output += chunk.toString()
          if (output.includes("press Ctrl-C to stop")) Deferred.unsafeDone(ready, Effect.succeed(output))
        }
        child.stdout!.on("data", take)
        child.stderr!.on("data", take)
        child.on("exit", (code) => {
          Deferred.unsafeDone(exited, Effect.succeed({ code, at: performance.now() }))
          Deferred.unsafeDone(ready, Effect.fail(new Error(`exited with ${code}:\n${output}`)))
        })
        return child
      }),
      // Whatever the test did, nothing of the group outlives it.
      (child) => Effect.sync(() => void (child.pid !== undefined && [child.pid, ...descendants(child.pid)].forEach((p) => alive(p) && process.kill(p, "SIGKILL")))),
    )
    const banner = yield* Deferred.await(ready).pipe(Effect.timeout("90 seconds"))
    const web = /meetzone is up — web (\S+)/.exec(banner)![1]!
    const caFile = /--ca (\S+)\)/.exec(banner)![1]!
    return { child, pid: child.pid!, web, caFile, ca: readFileSync(caFile, "utf8"), banner, exited: Deferred.await(exited), output: () => output }
  })

