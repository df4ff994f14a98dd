/**
 * What an operator sees of a running `meetzone up` (a real process): its
 * /metrics moving after a `meetzone client join`, and the /ops dashboard in
 * Debian's chromium showing the topology, the joins, and a meeting with a
 * browser and a headless client in it.
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { Agent, fetch } from "undici"
import { expect } from "vitest"
import * as Browser from "../support/browser.js"
import { meetzone } from "../support/cli.js"
import { poll } from "../support/poll.js"
import * as Prometheus from "../support/prometheus.js"

interface Up {
  readonly child: ChildProcess
  readonly web: string
  readonly caFile: string
  readonly metrics: string
  readonly dashboard: string
  readonly exited: Effect.Effect<number | null>
  readonly banner: string
}

/** `meetzone up` on a nats-server of its own (auth and TLS on), until the scope ends (then SIGTERM, by its PID). */
const startUp = () =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<string, Error>()
    const exit = yield* Deferred.make<number | null>()
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", "src/apps/meetzone.ts", "up", "--config", "examples/single-host.yaml"],
          { stdio: ["ignore", "pipe", "pipe"] },
        )
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString()
          if (output.includes("press Ctrl-C to stop")) Deferred.unsafeDone(ready, Effect.succeed(output))
        })
        child.stderr.on("data", (chunk: Buffer) => void (output += chunk.toString()))
        child.on("exit", (code) => {
          Deferred.unsafeDone(exit, Effect.succeed(code))
          Deferred.unsafeDone(ready, Effect.fail(new Error(`meetzone up exited with ${code}:\n${output}`)))
        })
        return child
      }),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")),
    )
    const banner = yield* Deferred.await(ready).pipe(Effect.timeout("60 seconds"))
    const find = (re: RegExp) => {
      const m = re.exec(banner)
      if (m === null) throw new Error(`not in the banner: ${re}\n${banner}`)
      return m[1]!
    }
    return {
      child,
      web: find(/meetzone is up — web (\S+)/),
      caFile: find(/--ca (\S+)\)/),
      metrics: find(/metrics at (\S+)\/metrics/),
      dashboard: find(/dashboard at (\S+)/),
      exited: Deferred.await(exit),
      banner,
    } satisfies Up
  })

const scrape = (up: Up) => Prometheus.scrape(up.metrics)
const sum = Prometheus.sum

layer(Layer.empty, { excludeTestServices: true, timeout: "120 seconds" })("operating a running meetzone up", (it) => {
  it.scoped(
    "its /metrics move after a client join; the dashboard shows the topology, a browser's and a CLI's joins, the meeting they are in with names, paths and transports, the empty placement apart, and a participant's live stats; SIGTERM stops it cleanly",
    () =>
      Effect.gen(function* () {
        const up = yield* startUp()
        expect(up.banner).toMatch(/auth on: every actor and every join its own identity/)

        const before = yield* scrape(up)
        expect(before).toContain("# TYPE meetzone_joins_total counter")
        expect(sum(before, "meetzone_mmr_participants")).toBe(0)
        const probesBefore = sum(before, "meetzone_probes_total")

        const created = yield* meetzone(["meeting", "create", "--web", up.web, "--ca", up.caFile])
        const meeting = created.stdout.trim()
        const join = yield* meetzone(["client", "join", meeting, "--web", up.web, "--ca", up.caFile, "--media", "audio,video", "--duration", "1", "--json"])
        expect(join.code, join.stderr).toBe(0)
        const report = JSON.parse(join.stdout) as { path: string; mmr: string; zone: string }

        // The client's own report reaches the web lookup just after it leaves.
        const after = yield* poll(scrape(up), (text) => sum(text, "meetzone_joins_total") > 0)
        expect(sum(after, "meetzone_joins_total", { path: "direct", outcome: "ok" })).toBe(1)
        expect(sum(after, "meetzone_join_seconds_count", { path: "direct" })).toBe(1)
        expect(sum(after, "meetzone_join_phase_seconds_count", { phase: "zone-selection", outcome: "ok" })).toBe(1)
        expect(sum(after, "meetzone_join_info_total")).toBe(1)
        expect(sum(after, "meetzone_probes_total")).toBeGreaterThan(probesBefore)
        expect(sum(after, "meetzone_placements_total", { outcome: "placed", zone: report.zone })).toBe(1)
        expect(sum(after, "meetzone_mmr_packets_total", { mmr: report.mmr, kind: "audio", direction: "in" })).toBeGreaterThan(20)
        expect(sum(after, "meetzone_mmr_packets_total", { mmr: report.mmr, kind: "video", direction: "in" })).toBeGreaterThan(20)
        expect(after).toContain("meetzone_tunnel_sessions{")
        // A forged join token is refused, and counted.
        const forged = yield* Effect.promise(() =>
          fetch(`${up.web}/api/joins`, { method: "POST", headers: { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl" }, body: "{}", dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) }).then((r) => r.status),
        )
        expect(forged).toBe(401)
        expect(sum(yield* scrape(up), "meetzone_join_tokens_refused_total", { kind: "forged" })).toBe(1)
        expect(after).toContain("meetzone_process_cpu_seconds_total")

        // A second meeting with people in it: a browser (through a tunnel) and a headless client (direct).
        const standup = (yield* meetzone(["meeting", "create", "--web", up.web, "--ca", up.caFile, "--topic", "Standup"])).stdout.trim()
        const { context } = yield* Browser.launch
        const ada = yield* Effect.promise(() => context.newPage())
        const errors: Array<string> = []
        ada.on("pageerror", (e) => errors.push(e.message))
        yield* Effect.promise(() => ada.goto(`${up.web}/j/${standup}`))
        yield* Effect.promise(() => ada.fill("#name", "Ada"))
        yield* Effect.promise(() => ada.click("button[type=submit]"))
        const cli = yield* Effect.fork(meetzone(["client", "join", standup, "--web", up.web, "--ca", up.caFile, "--name", "Cli", "--media", "audio,video", "--duration", "25", "--json"]))

        // The dashboard, in chromium.
        const page = yield* Effect.promise(() => context.newPage())
        page.on("pageerror", (e) => errors.push(e.message))
        yield* Effect.promise(() => page.goto(up.dashboard))
        interface Seen { readonly name: string; readonly path?: string; readonly media: ReadonlyArray<{ kind: string; transport: string }> }
        const bothIn = yield* Effect.promise(() =>
          page.waitForFunction((id) => {
            type S = { meetings: ReadonlyArray<{ id: string; topic?: string; participants: ReadonlyArray<Seen> }>; idle: ReadonlyArray<{ meeting: string }>; joins: ReadonlyArray<unknown> }
            const state = (window as unknown as { __ops?: { state?: S } }).__ops?.state
            const m = state?.meetings.find((x) => x.id === id)
            const ready = m !== undefined && m.participants.length === 2 && m.participants.every((p) => p.path !== undefined && p.media.length >= 2)
            return ready ? m : undefined
          }, standup, { timeout: 30_000 }).then((h) => h.jsonValue() as Promise<{ topic?: string; participants: ReadonlyArray<Seen> }>),
        )
        expect(bothIn.topic).toBe("Standup")
        const byName = Object.fromEntries(bothIn.participants.map((p) => [p.name, p]))
        expect(byName["Ada"]?.path).toBe("tunnel")
        expect(byName["Cli"]?.path).toBe("direct")
        // The headless client's own kinds go over UDP here; the MMR sees each kind's connection.
        expect(byName["Cli"]?.media.map((c) => `${c.kind}/${c.transport}`).sort()).toEqual(["audio/udp", "video/udp"])
        const count = (selector: string) => Effect.promise(() => page.locator(selector).count())
        expect(yield* count("article.zone")).toBe(2)
        expect(yield* count("[data-controller]")).toBe(4)
        expect(yield* count("[data-mmr]")).toBe(4)
        expect(yield* count("[data-tunnel]")).toBe(2)
        expect(yield* count(`article.meeting[data-meeting="${standup}"] tr[data-participant]`)).toBe(2)
        expect(yield* Effect.promise(() => page.locator(`article.meeting[data-meeting="${standup}"]`).innerText())).toMatch(/Standup[\s\S]*Ada[\s\S]*tunnel[\s\S]*Cli[\s\S]*direct/)
        // The first meeting's client has left: its placement is shown apart, not as a meeting.
        expect(yield* count(`article.meeting[data-meeting="${meeting}"]`)).toBe(0)
        expect(yield* count(`#idle [data-idle="${meeting}"]`)).toBe(1)
        expect(yield* count("#joins tbody tr[data-path=direct]")).toBeGreaterThanOrEqual(1)
        expect(yield* count("#joins tbody tr[data-path=tunnel]")).toBe(1)
        // One click on a name: its live stats, with rates once two polls have been seen.
        yield* Effect.promise(() => page.click(`article.meeting[data-meeting="${standup}"] tr[data-participant] button:text("Cli")`))
        yield* Effect.promise(() => page.waitForSelector("#details:not([hidden]) tr[data-kind=video]", { timeout: 5_000 }))
        yield* Effect.promise(() =>
          page.waitForFunction(() => {
            const cells = Array.from(document.querySelectorAll("#details tr[data-kind=video] td"), (td) => td.textContent ?? "")
            return cells.length === 11 && Number(cells[2]) > 0 && Number(cells[3]) > 0
          }, undefined, { timeout: 10_000 }),
        )
        expect(yield* Effect.promise(() => page.locator("#details h3").innerText())).toBe(`Cli in ${standup}`)
        expect(yield* Effect.promise(() => page.locator("#details tr[data-kind=video] td").nth(1).innerText())).toBe("udp")
        // The token is out of the address bar once read.
        expect(page.url()).not.toContain("token")
        const shot = yield* Effect.promise(() => Browser.artifacts("ops-dashboard.png"))
        yield* Effect.promise(() => page.screenshot({ path: shot, fullPage: true }))
        expect(errors).toEqual([])
        yield* Fiber.interrupt(cli)

        // A wrong token gets nothing, and the page asks for another.
        const intruder = yield* Effect.promise(() => context.newPage())
        yield* Effect.promise(() => intruder.goto(`${up.web}/ops#token=not-the-operator-token`))
        yield* Effect.promise(() => intruder.waitForSelector("#login:not([hidden])", { timeout: 10_000 }))
        expect(yield* Effect.promise(() => intruder.locator("#status").innerText())).toContain("refused")
        expect(yield* Effect.promise(() => intruder.locator("[data-mmr]").count())).toBe(0)

        up.child.kill("SIGTERM")
        expect(yield* up.exited.pipe(Effect.timeout("20 seconds"))).toBe(0)
      }),
    90_000,
  )

  it.scoped(
    "meetzone doctor finds every step working and names direct UDP; the /doctor page in chromium shows a browser's way in through a tunnel, with a media echo",
    () =>
      Effect.gen(function* () {
        const up = yield* startUp()
        const doctor = yield* meetzone(["doctor", "--web", up.web, "--ca", up.caFile])
        expect(doctor.code, `${doctor.stdout}\n${doctor.stderr}`).toBe(0)
        expect(doctor.stdout).toMatch(/^controller +eu-west\/c1 +ok +[\d.]+ ms/m)
        for (const t of ["UDP", "TCP", "TLS"]) expect(doctor.stdout, t).toMatch(new RegExp(`^media ${t} .* ok .*rtt [\\d.]+ ms, loss 0 %, DSCP 46 marked$`, "m"))
        expect(doctor.stdout).toMatch(/^tunnel media +tunnel-\d +ok/m)
        expect(doctor.stdout).toContain("A join would go direct, media over UDP")
        expect(doctor.stdout).toContain("Nothing to open: the best path works.")

        const { context } = yield* Browser.launch
        const page = yield* Effect.promise(() => context.newPage())
        const errors: Array<string> = []
        page.on("pageerror", (e) => errors.push(e.message))
        yield* Effect.promise(() => page.goto(`${up.web}/doctor`))
        yield* Effect.promise(() => page.waitForFunction(() => document.body.dataset["doctor"] === "done", undefined, { timeout: 30_000 }))
        const result = yield* Effect.promise(() =>
          page.evaluate(() => (window as unknown as { doctorResult: { ok: boolean; verdict: string; rows: Array<{ step: string; outcome: string; ms?: number; detail: string }> } }).doctorResult),
        )
        expect(result.ok, JSON.stringify(result.rows)).toBe(true)
        expect(result.verdict).toMatch(/^This browser can join: through tunnel-\d to \S+-mmr-\d, round trip [\d.]+ ms, loss \d+ %\.$/)
        expect(result.rows.filter((r) => r.step === "tunnel").map((r) => r.outcome)).toEqual(["ok", "ok"])
        const echo = result.rows.find((r) => r.step === "media echo")!
        const answered = Number(/^(\d+) of 20 checks answered/.exec(echo.detail)?.[1])
        expect(answered, echo.detail).toBeGreaterThanOrEqual(15)
        // The picture: browser, web lookup, two tunnels and the MMR, every line to them drawn solid (it worked).
        expect(yield* Effect.promise(() => page.locator("#picture rect").count())).toBe(5)
        expect(yield* Effect.promise(() => page.locator('#picture line[stroke-dasharray=""]').count())).toBe(4)
        const shot = yield* Effect.promise(() => Browser.artifacts("doctor-page.png"))
        yield* Effect.promise(() => page.screenshot({ path: shot, fullPage: true }))
        expect(errors).toEqual([])

        up.child.kill("SIGTERM")
        expect(yield* up.exited.pipe(Effect.timeout("20 seconds"))).toBe(0)
      }),
    90_000,
  )
})
