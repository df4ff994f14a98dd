/**
 * `npm start` as a new user runs it: `meetzone up --demo` starts its own
 * nats-server with auth on (operator mode; every actor and every join an
 * identity of its own), creates a meeting, joins two clients with media, and
 * exits 0 — with no permission violation anywhere on the way.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { meetzone } from "../support/cli.js"

describe("meetzone up --demo", () => {
  it.live("runs the whole connection process on its own nats-server with auth on", () =>
    Effect.gen(function* () {
      const run = yield* meetzone(["up", "--config", "examples/single-host.yaml", "--demo"])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toMatch(/started for this run\); auth on: every actor and every join its own identity/)
      expect(run.stdout).toMatch(/demo: both participants are on \S+; its roster: Ada, Grace/)
      expect(run.stdout).toMatch(/joined meeting \d+ as Ada: direct/)
      expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/Permissions Violation|Authorization Violation/)
    }),
  { timeout: 120_000 })
})
