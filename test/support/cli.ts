/**
 * Runs the `meetzone` command line as operators do (a process of its own),
 * to its end: exit code, stdout and stderr. Killed (by its PID) if the test
 * ends first.
 */
import { execFile } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Dev mode's home for every run here, so that nothing reads or writes this machine's ~/.meetzone. */
const home = mkdtempSync(join(tmpdir(), "meetzone-home-"))

export const meetzone = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {},
  // Generous: tsx compiles on start, and CI machines are busy.
  timeoutMs = 150_000,
): Effect.Effect<CliRun> =>
  Effect.async<CliRun>((resume) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", "src/apps/meetzone.ts", ...args],
      { timeout: timeoutMs, env: { ...process.env, MEETZONE_HOME: home, ...env } },
      (error, stdout, stderr) => resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })),
    )
    return Effect.sync(() => void child.kill("SIGKILL"))
  })
