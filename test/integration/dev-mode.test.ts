/**
 * Dev mode: `meetzone up` with no arguments listens at a fixed address and
 * keeps its CA, so the commands it prints work without --web or --ca, and
 * again after a restart; `/` creates or joins a meeting.
 */
import { readFileSync } from "node:fs"
import { mkdtemp } from "node:fs/promises"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent, fetch } from "undici"
import { meetzone } from "../support/cli.js"
import { startUp } from "../support/up-process.js"

/** A port free a moment ago (dev mode's fixed 8443 might be taken on a shared machine). */
const freePort = Effect.async<number>((resume) => {
  const server = createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("dev mode", () => {
  it.live(
    "up with no arguments: a fixed web address and a kept CA; meeting create and client join need neither --web nor --ca, also after a restart",
    () =>
      Effect.gen(function* () {
        const home = yield* Effect.promise(() => mkdtemp(joinPath(tmpdir(), "meetzone-home-")))
        const port = yield* freePort
        const env = { MEETZONE_HOME: home, MEETZONE_WEB: `https://127.0.0.1:${port}` }
        const up = ["--import", "tsx", "src/apps/meetzone.ts", "up"]

        const first = yield* Effect.scoped(
          Effect.gen(function* () {
            const run = yield* startUp(process.execPath, up, env)
            expect(run.web).toBe(`https://127.0.0.1:${port}`)
            expect(run.caFile).toBe(joinPath(home, "dev", "ca.pem"))
            expect(run.banner).toContain("try it (these work again after every restart of `meetzone up`):")
            expect(run.banner).toContain("  npx meetzone meeting create --topic hello\n")
            const created = yield* meetzone(["meeting", "create", "--topic", "dev"], env)
            expect(created.code, created.stderr).toBe(0)
            const meeting = created.stdout.trim()
            expect(meeting).toMatch(/^\d{10}$/)
            expect(created.stderr.trim()).toBe(`join in a browser: https://127.0.0.1:${port}/j/${meeting}`)
            // The landing page.
            const page = yield* Effect.promise(() =>
              fetch(`${run.web}/`, { dispatcher: new Agent({ connect: { ca: run.ca } }) }).then(async (r) => ({ status: r.status, text: await r.text() })),
            )
            expect(page.status).toBe(200)
            expect(page.text).toContain('<form id="create">')
            expect(page.text).toContain('<a href="/doctor">')
            process.kill(run.pid, "SIGINT")
            yield* run.exited
            return { ca: run.ca }
          }),
        )

        // Restarted: the same CA and address, so the same commands work again with no flags at all.
        // (Meetings live in this run's own nats-server, which starts afresh.)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const run = yield* startUp(process.execPath, up, env)
            expect(run.ca).toBe(first.ca)
            expect(readFileSync(joinPath(home, "dev", "ca-key.pem")).length).toBeGreaterThan(100)
            const meeting = (yield* meetzone(["meeting", "create"], env)).stdout.trim()
            const join = yield* meetzone(["client", "join", meeting, "--json"], env)
            expect(join.code, join.stderr).toBe(0)
            expect(JSON.parse(join.stdout)).toMatchObject({ meeting, path: "direct" })
            process.kill(run.pid, "SIGINT")
            yield* run.exited
          }),
        )
      }),
    180_000,
  )
})
