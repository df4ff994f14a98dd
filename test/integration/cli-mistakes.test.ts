/**
 * The usual mistakes at the command line, each made for real against a
 * running deployment: one line on stderr that says what is wrong and what to
 * do, no stack trace, exit status 1; and stdout carries only the command's
 * output, also with every log on.
 */
import { mkdtemp, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { stringify } from "yaml"
import * as Lookup from "../../src/actors/client/lookup.js"
import * as Config from "../../src/topology/config.js"
import type { CliRun } from "../support/cli.js"
import { meetzone } from "../support/cli.js"
import * as TestTopology from "../support/topology.js"

/** A port this test holds (and so one that nothing else answers on, when closed at once). */
const heldPort = Effect.acquireRelease(
  Effect.async<{ port: number; close: () => void }>((resume) => {
    const server = createServer().listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ port: (server.address() as AddressInfo).port, close: () => server.close() })),
    )
  }),
  (h) => Effect.sync(h.close),
)

const tempFile = (name: string, text: string) =>
  Effect.promise(async () => {
    const file = joinPath(await mkdtemp(joinPath(tmpdir(), "meetzone-mistakes-")), name)
    await writeFile(file, text)
    return file
  })

/** One line on stderr, `meetzone: …`, no trace, exit 1; returns the line. */
const oneLine = (run: CliRun): string => {
  const lines = run.stderr.trim().split("\n")
  expect(lines, run.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^meetzone: /)
  expect(run.stderr).not.toMatch(/^\s+at /m)
  expect(run.code, run.stderr).toBe(1)
  return lines[0]!
}

const smallTopology = (over: Record<string, unknown>) =>
  stringify({ ...Config.defaultTopology, zones: [{ ...Config.defaultTopology.zones[0], mmrs: [{ id: "m1" }] }], ...over })

layer(TestTopology.startSecuredLayer(TestTopology.twoZones({ prefix: "mistakes" })), { excludeTestServices: true, timeout: "180 seconds" })(
  "the command line's usual mistakes",
  (it) => {
    it.scoped("--web without its scheme, a missing or wrong --ca, no --ca, a --video that cannot be sent: one line each, saying what to give", () =>
      Effect.gen(function* () {
        const { web, tls } = yield* TestTopology.Secured
        const ca = yield* tempFile("ca.pem", tls.ca)
        const http = yield* Lookup.dispatcher(tls, Option.none())
        const meeting = (yield* Effect.orDie(Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 }))).id
        const bare = web.replace("https://", "")
        const [noScheme, createNoScheme, missingCa, notPem, noCa, noVideoFile, noFfmpeg] = yield* Effect.all(
          [
            meetzone(["client", "join", meeting, "--web", bare, "--ca", ca]),
            meetzone(["meeting", "create", "--web", bare, "--ca", ca]),
            meetzone(["client", "join", meeting, "--web", web, "--ca", "/nonexistent/ca.pem"]),
            meetzone(["client", "join", meeting, "--web", web, "--ca", yield* tempFile("ca.txt", "not a certificate")]),
            meetzone(["meeting", "create", "--web", web]),
            meetzone(["client", "join", meeting, "--web", web, "--ca", ca, "--media", "video", "--video", "/nonexistent/clip.mp4"]),
            // ffmpeg not on PATH (node itself is run by its full path).
            meetzone(["client", "join", meeting, "--web", web, "--ca", ca, "--media", "video", "--video", "pattern"], { PATH: "/nonexistent" }),
          ],
          { concurrency: "unbounded" },
        )
        expect(oneLine(noVideoFile)).toBe("meetzone: --video /nonexistent/clip.mp4: /nonexistent/clip.mp4: no such file")
        expect(oneLine(noFfmpeg)).toMatch(/^meetzone: --video pattern: real video needs ffmpeg \(ffmpeg: .*ENOENT\); install it: apt-get install ffmpeg$/)
        expect(oneLine(noScheme)).toBe(`meetzone: --web ${bare}: not a URL (give its scheme: https://${bare})`)
        expect(oneLine(createNoScheme)).toBe(`meetzone: --web ${bare}: not a URL (give its scheme: https://${bare})`)
        expect(oneLine(missingCa)).toBe("meetzone: --ca /nonexistent/ca.pem: no such file (`meetzone up` prints the CA's path)")
        expect(oneLine(notPem)).toMatch(/--ca \S+ca\.txt: not a PEM certificate/)
        expect(oneLine(noCa)).toMatch(/its certificate is not trusted here \(.+\): trust the deployment's CA \(tls\.ca; --ca/)
        // A join without --ca fails in its report (stdout), which says the same; nothing on stderr.
        const joinNoCa = yield* meetzone(["client", "join", meeting, "--web", web])
        expect(joinNoCa.code).toBe(1)
        expect(joinNoCa.stderr).toBe("")
        expect(joinNoCa.stdout).toContain("its certificate is not trusted here")
        expect(joinNoCa.stdout).not.toMatch(/^\s+at /m)
      }),
    )

    it.scoped("a web or tunnel port in use, NATS not there: one line each, exit 1", () =>
      Effect.gen(function* () {
        const held = yield* heldPort
        const closed = yield* heldPort // closed below: nothing answers on it
        closed.close()
        const [webBusy, tunnelBusy, noNats] = yield* Effect.all(
          [
            meetzone(["up", "--config", yield* tempFile("web.yaml", smallTopology({ web: [{ id: "web-1", port: held.port }] }))]),
            meetzone(["up", "--config", yield* tempFile("tunnel.yaml", smallTopology({ tunnels: [{ id: "tunnel-1", port: held.port }] }))]),
            meetzone(["up", "--nats", `nats://127.0.0.1:${closed.port}`]),
          ],
          { concurrency: "unbounded" },
        )
        expect(oneLine(webBusy)).toBe(`meetzone: port ${held.port} on 127.0.0.1 is already in use (another meetzone up?): stop what holds it, or give another port in the config (0: any free port)`)
        expect(oneLine(tunnelBusy)).toBe(`meetzone: tunnel 127.0.0.1:${held.port}: the port is already in use (another meetzone up?)`)
        expect(oneLine(noNats)).toMatch(new RegExp(`cannot connect to nats://127\\.0\\.0\\.1:${closed.port}: connection refused \\(is a nats-server running there\\? Without --nats`))
      }),
    )

    it.scoped("client join --json with every log on: exactly one JSON document on stdout, the logs on stderr once each", () =>
      Effect.gen(function* () {
        const { web, tls } = yield* TestTopology.Secured
        const ca = yield* tempFile("ca.pem", tls.ca)
        const http = yield* Lookup.dispatcher(tls, Option.none())
        const meeting = (yield* Effect.orDie(Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 }))).id
        const run = yield* meetzone(["client", "join", meeting, "--web", web, "--ca", ca, "--json", "--media", "audio"], { MEETZONE_LOG_LEVEL: "debug" })
        expect(run.code, run.stderr).toBe(0)
        const lines = run.stdout.trim().split("\n")
        expect(lines, run.stdout).toHaveLength(1)
        expect(JSON.parse(lines[0]!)).toMatchObject({ meeting, path: "direct" })
        const logs = run.stderr.trim().split("\n")
        expect(logs.some((l) => l.includes("DEBUG")), run.stderr).toBe(true)
        for (const l of logs) expect(l).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (DEBUG|INFO|WARN|ERROR) /)
        expect(new Set(logs).size, "no line twice").toBe(logs.length)
      }),
    )
  },
)
