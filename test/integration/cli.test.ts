/**
 * The `meetzone` command as operators run it: separate processes, real
 * output. `up --demo` is what `npm start` runs.
 */
import { execFile } from "node:child_process"
import { describe, expect, it } from "@effect/vitest"

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/apps/meetzone.ts", ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number) ?? 1, stdout, stderr }),
    )
  })

describe("meetzone CLI", () => {
  it("up --demo starts its own nats-server, joins two clients to one MMR, and exits 0", async () => {
    const { code, stdout, stderr } = await run(["up", "--config", "examples/single-host.yaml", "--demo"])
    expect(code, `${stdout}\n${stderr}`).toBe(0)
    expect(stdout).toMatch(/control plane: NATS nats:\/\/127\.0\.0\.1:\d+ \(started for this run\)/)
    expect(stdout.match(/^ {2}(mmr|zone controller|web lookup) /gm)?.length).toBe(9)
    expect(stdout.match(/^joined meeting \d+ as (Ada|Grace): direct, zone \S+, MMR \S+/gm)).toHaveLength(2)
    expect(stdout).toMatch(/demo: both participants are on \S+; its roster: Ada, Grace/)
  })

  it("up --demo falls back to the in-process bus without nats-server, and says so", async () => {
    const { code, stdout, stderr } = await run(["up", "--demo"], { NATS_SERVER_BIN: "none" })
    expect(code, `${stdout}\n${stderr}`).toBe(0)
    expect(stdout).toContain("control plane: in-process (no nats-server found)")
    expect(stderr).toContain("nats-server not found")
    expect(stdout).toMatch(/demo: both participants are on \S+/)
  })

  it("up refuses a bad config before starting anything, naming the field", async () => {
    const { code, stderr, stdout } = await run(["up", "--config", "test/support/bad-config.yaml"])
    expect(code).not.toBe(0)
    expect(`${stdout}${stderr}`).toContain("zones.0.mmrs.0.capacity")
    expect(`${stdout}${stderr}`).not.toContain("meetzone is up")
  })
})
