/**
 * The browser web client in a real browser: two chromium pages (fake camera
 * and microphone; Opus and VP8 through WebCodecs) and a headless CLI client
 * (a separate `meetzone client join` process) in one meeting. The pages go
 * through the HTTP tunnel; the CLI client goes direct. Everyone must receive
 * everyone else's audio and video, and the pages must decode each other's.
 */
import { readFileSync } from "node:fs"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import type { Page } from "playwright-core"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import * as Keys from "../../src/protocol/media-keys.js"
import * as Srtp from "../../src/protocol/srtp.js"
import * as Connector from "../../src/transports/connector.js"
import * as Browser from "../support/browser.js"
import { meetzone } from "../support/cli.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as TestTopology from "../support/topology.js"

interface Received {
  readonly kind: "audio" | "video"
  readonly from: string
  readonly packets: number
  readonly decoded: number
  readonly decodeErrors: number
  readonly foreign: number
}
interface PageSummary {
  readonly phase: string
  readonly error?: string
  readonly tunnel: string
  readonly mmr: string
  readonly moves: ReadonlyArray<{ from: string; to?: string; outcome: string }>
  readonly roster: ReadonlyArray<{ name: string }>
  readonly sent: Record<"audio" | "video", { packets: number; transport: string }>
  readonly received: ReadonlyArray<Received>
  readonly rtcp?: Record<"audio" | "video", { sent: number; received: number; up?: { loss: number; lost: number; jitterMs: number }; rttMs?: number }>
  readonly encryption?: {
    sendingEpoch: number
    epochs: ReadonlyArray<number>
    counters: Record<string, { decrypted: number; authFailed: number; replayed: number; unknownEpoch: number; malformed: number }>
    endToEnd?: { securityCode?: string; leader?: string; made: number; taken: number; refused: number }
  }
}

/** What the test uses of web/client/srtp.js, as the page imports it. */
interface BrowserSrtp {
  sessionKeys(key: Uint8Array, salt: Uint8Array): Promise<unknown>
  protect(keys: unknown, packet: Uint8Array, roc: number, mki?: number): Promise<Uint8Array>
  unprotect(keys: unknown, packet: Uint8Array, roc: number): Promise<Uint8Array | undefined>
  keyRing(
    meeting: string,
    participant: string,
    keys: { profile: string; epochs: ReadonlyArray<{ epoch: number; key: string }> },
  ): {
    protect(kind: string, packet: Uint8Array): Promise<Uint8Array | undefined>
    unprotect(kind: string, packet: Uint8Array): Promise<Uint8Array | undefined>
    counters: Record<string, unknown>
  }
}

const summaryOf = (page: Page) =>
  Effect.promise(() => page.evaluate(() => (window as unknown as { meetzone: { summary: () => PageSummary } }).meetzone.summary()))

/** Polls the page until `ok` holds (bounded: `tries` × 100 ms). */
const until = (page: Page, ok: (s: PageSummary) => boolean, what: string, tries = 150) =>
  Effect.gen(function* () {
    for (let i = 0; i < tries; i++) {
      const s = yield* summaryOf(page)
      if (ok(s)) return s
      if (s.phase === "failed") return yield* Effect.dieMessage(`${what}: the page failed: ${s.error}`)
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.dieMessage(`${what}: not within ${tries / 10} s: ${JSON.stringify(yield* summaryOf(page))}`)
  })

layer(serverWithClient, { excludeTestServices: true, timeout: "180 seconds" })("browser web client", (it) => {
  it.scoped("a browser and a headless CLI client in one meeting each receive the other's media", () =>
    Effect.gen(function* () {
      // NATS with auth and TLS on: the tunnels relay for the browsers as themselves, the CLI client joins with its own identity.
      const { web, tls, topology } = yield* TestTopology.startSecured(TestTopology.twoZones({ prefix: "e2e" }))
      const http = yield* Lookup.dispatcher(tls, Option.none())
      const meeting = (yield* Lookup.createMeeting(http, new URL(web), { topic: "browser test", timeoutMs: 5000 })).id
      const dir = yield* Effect.promise(() => mkdtemp(joinPath(tmpdir(), "meetzone-e2e-")))
      const caFile = joinPath(dir, "ca.pem")
      yield* Effect.promise(() => writeFile(caFile, tls.ca))

      const { context } = yield* Browser.launch
      const pages: Array<Page> = []
      for (const name of ["Ada", "Bob"]) {
        const page = yield* Effect.promise(() => context.newPage())
        const errors: Array<string> = []
        page.on("pageerror", (e) => errors.push(e.message))
        yield* Effect.promise(() => page.goto(`${web}/j/${meeting}`))
        yield* Effect.promise(() => page.fill("#name", name))
        yield* Effect.promise(() => page.click("button[type=submit]"))
        pages.push(page)
        yield* Effect.addFinalizer(() => Effect.sync(() => expect(errors, `${name}: uncaught errors in the page`).toEqual([])))
      }
      for (const page of pages) {
        const s = yield* until(page, (s) => s.phase === "joined" && s.sent.video.packets > 0 && s.sent.audio.packets > 0, "browser join")
        expect(s.sent.audio.transport).toBe("tunnel")
        expect(s.tunnel).toMatch(/^tunnel-[12]$/)
      }
      // Operators see the browsers' joins as they see the CLI's: reported to the web lookup (its dashboard and metrics).
      const browserJoins = () => topology.web[0]!.joins.recent().filter((j) => j.meeting === meeting && j.path === "tunnel" && j.outcome === "ok")
      for (let i = 0; i < 50 && browserJoins().length < 2; i++) yield* Effect.sleep("100 millis")
      expect(browserJoins().map((j) => j.phases.map((p) => p.name))).toEqual([
        ["lookup", "tunnel", "mmr-selection", "media"],
        ["lookup", "tunnel", "mmr-selection", "media"],
      ])

      // The headless client joins the same meeting directly and sends synthetic media for 6 s (4 s once missed a sender on a loaded CI machine).
      const cli = yield* meetzone(["client", "join", meeting, "--web", web, "--ca", caFile, "--name", "Cli", "--media", "audio,video", "--audio", "tone", "--video", "pattern", "--duration", "6", "--json"], { HTTPS_PROXY: "", https_proxy: "" })
      expect(cli.code, cli.stderr).toBe(0)
      const report = yield* Effect.try({
        try: () =>
          // The report is the last line: warnings (a move, a kind leaving UDP) may come before it.
          JSON.parse(cli.stdout.trim().split("\n").at(-1)!) as {
            path: string
            mmr: string
            media: ReadonlyArray<{ kind: string; transport: string; receivedFrom: Record<string, number>; changes?: ReadonlyArray<unknown>; rtcp?: { received: number; up?: unknown } }>
            phases: ReadonlyArray<{ name: string; attempts: ReadonlyArray<{ target: string; outcome: string; detail?: string }> }>
          },
        catch: () => new Error(`the CLI's stdout is not its JSON report:\n${cli.stdout}\n--- stderr:\n${cli.stderr}`),
      }).pipe(Effect.orDie)
      expect(report.path).toBe("direct")
      for (const kind of ["audio", "video"]) {
        const m = report.media.find((x) => x.kind === kind)!
        // UDP — unless, on a starved CI machine, TCP won the join's race (UDP's attempt then says so) or the
        // session measured its UDP path lossy and moved the kind (with the reason).
        const udpAttempt = report.phases.flatMap((p) => p.attempts).find((a) => a.target === `${kind}/udp`)
        expect(udpAttempt, `${kind}: UDP was tried`).toBeDefined()
        const udpLost = udpAttempt!.outcome !== "ok" && udpAttempt!.detail === `closed: ${m.transport} connected first`
        expect(m.changes === undefined && !udpLost ? m.transport : "udp", JSON.stringify({ changes: m.changes, udpAttempt })).toBe("udp")
        // Opus at 50 packets/s and VP8 at 15 frames/s from each browser, for 6 s: well over 20 either way.
        expect(m.receivedFrom["Ada"], `CLI ${kind} from Ada`).toBeGreaterThan(20)
        expect(m.receivedFrom["Bob"], `CLI ${kind} from Bob`).toBeGreaterThan(20)
        // RTCP both ways for the CLI client, too.
        expect(m.rtcp?.received, `CLI ${kind} RTCP received`).toBeGreaterThanOrEqual(3)
        expect(m.rtcp?.up, `CLI ${kind}: the MMR's report on its stream`).toBeDefined()
      }

      for (const [page, other] of [[pages[0]!, "Bob"], [pages[1]!, "Ada"]] as const) {
        const s = yield* summaryOf(page)
        // One meeting, one MMR — the CLI's (as it joined) is one this page was on. Under CI load the controllers may
        // move the meeting (a starved MMR judged frozen) and everyone follows, so a page may have moved on since.
        const visited = new Set([s.mmr, ...s.moves.flatMap((m) => [m.from, ...(m.to === undefined ? [] : [m.to])])])
        expect([...visited], JSON.stringify(s.moves)).toContain(report.mmr)
        expect(s.roster.map((p) => p.name)).toEqual(expect.arrayContaining(["Ada", "Bob"]))
        const from = (who: string, kind: string) => s.received.find((r) => r.from === who && r.kind === kind)
        // The CLI client's audio is a real Opus tone (--audio tone): the page decodes and plays it.
        expect(from("Cli", "audio")?.packets, "page: audio from Cli").toBeGreaterThan(50)
        expect(from("Cli", "audio")?.decoded, "page: Cli's Opus decoded").toBeGreaterThan(50)
        expect(from("Cli", "audio")!.decodeErrors).toBe(0)
        // Its video is VP8 from ffmpeg's test pattern (--video pattern): the page decodes and shows it.
        expect(from("Cli", "video")?.packets, "page: video from Cli").toBeGreaterThan(50)
        expect(from("Cli", "video")?.decoded, "page: Cli's VP8 decoded").toBeGreaterThan(10)
        expect(from("Cli", "video")!.decodeErrors).toBe(0)
        // The other browser's media is real: decoded, without errors.
        const audio = from(other, "audio")!
        const video = from(other, "video")!
        expect(audio.decoded, `${other}'s audio decoded`).toBeGreaterThan(50)
        expect(video.decoded, `${other}'s video decoded`).toBeGreaterThan(10)
        expect(audio.decodeErrors + video.decodeErrors).toBe(0)
        // All of it SRTP: the page decrypted what it played, and nothing it got failed to authenticate.
        expect(s.encryption?.sendingEpoch).toBeGreaterThanOrEqual(1)
        for (const kind of ["audio", "video"]) {
          expect(s.encryption!.counters[kind]!.decrypted, `${kind} decrypted`).toBeGreaterThan(50)
          expect(s.encryption!.counters[kind]!.authFailed, `${kind} failing authentication`).toBe(0)
          // RTCP from the page too: its reports out, the MMR's about its stream back (with a round trip through the tunnel).
          const rtcp = s.rtcp![kind as "audio" | "video"]
          expect(rtcp.sent, `${kind} RTCP sent`).toBeGreaterThanOrEqual(3)
          expect(rtcp.received, `${kind} RTCP received`).toBeGreaterThanOrEqual(3)
          expect(rtcp.up, `${kind}: the MMR's report on the page's stream`).toBeDefined()
          expect(rtcp.rttMs, `${kind}: round trip`).toBeGreaterThanOrEqual(0)
        }
      }
      const shot = yield* Effect.promise(() => Browser.artifacts("web-client.png"))
      yield* Effect.promise(() => pages[0]!.screenshot({ path: shot, fullPage: true }))
    }),
    // Two browsers with real codecs and a 6 s CLI session: about 35 s on 2 cores; on a starved CI machine the
    // controllers may move the meeting (an MMR late on control or media) and everyone follows: room for that.
    150_000,
  )

  it.scoped("an end-to-end meeting: a browser and a headless client agree one key through their MMR (X25519 in WebCrypto and in Node), show the same security code and open each other's media", () =>
    Effect.gen(function* () {
      const { web, tls } = yield* TestTopology.startSecured(TestTopology.twoZones({ prefix: "e2ee" }))
      const http = yield* Lookup.dispatcher(tls, Option.none())
      const created = yield* Lookup.createMeeting(http, new URL(web), { topic: "end to end", endToEnd: true, timeoutMs: 5000 })
      expect(created.endToEnd).toBe(true)
      const { context } = yield* Browser.launch
      const page = yield* Effect.promise(() => context.newPage())
      const errors: Array<string> = []
      page.on("pageerror", (e) => errors.push(e.message))
      yield* Effect.promise(() => page.goto(`${web}/j/${created.id}`))
      yield* Effect.promise(() => page.fill("#name", "Ada"))
      yield* Effect.promise(() => page.click("button[type=submit]"))
      // Alone, the page leads: it makes the first key itself.
      yield* until(page, (s) => s.phase === "joined" && (s.encryption?.endToEnd?.made ?? 0) >= 1 && s.sent.audio.packets > 0, "browser join")
      const cli = yield* Client.join({ web, meeting: created.id, name: "Cli", tls, proxy: "none", media: { kinds: ["audio", "video"], keyActivationMs: 300 } }).pipe(
        Effect.provide(Connector.nats),
      )
      const code = () => cli.encryption!.endToEnd!.securityCode()
      const s = yield* until(
        page,
        (s) => s.encryption?.endToEnd?.securityCode === code() && (s.encryption.counters["audio"]?.decrypted ?? 0) > 50 && (s.encryption.counters["video"]?.decrypted ?? 0) > 50,
        "the page opens the headless client's media under the agreed key",
      )
      expect(s.encryption!.endToEnd!.refused).toBe(0)
      for (const kind of ["audio", "video"]) expect(s.encryption!.counters[kind]!.authFailed, `page: ${kind} failing authentication`).toBe(0)
      expect(s.received.find((r) => r.from === "Cli" && r.kind === "audio")?.packets).toBeGreaterThan(50)
      const report = yield* cli.finalReport
      for (const kind of ["audio", "video"] as const) {
        const m = report.media!.find((x) => x.kind === kind)!
        expect(m.receivedFrom["Ada"], `headless: ${kind} from Ada`).toBeGreaterThan(20)
        expect(m.encryption).toMatchObject({ authFailed: 0, endToEnd: { securityCode: s.encryption!.endToEnd!.securityCode, refused: 0 } })
      }
      expect(errors).toEqual([])
    }),
    90_000,
  )

  it.scoped("the browser's SRTP (WebCrypto) passes RFC 7714's vectors and opens what Node's makes, and Node opens the browser's", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "e2e3" }), [nats.url])
      const { context } = yield* Browser.launch
      const page = yield* Effect.promise(() => context.newPage())
      yield* Effect.promise(() => page.goto(`${web}/healthz`))
      yield* Effect.promise(() => page.addScriptTag({ type: "module", content: 'import * as srtp from "/web/client/srtp.js"; window.srtp = srtp' }))
      yield* Effect.promise(() => page.waitForFunction(() => (window as unknown as { srtp?: unknown }).srtp !== undefined, undefined, { timeout: 5000 }))
      const golden = JSON.parse(readFileSync(new URL("../golden/rfc7714-vectors.json", import.meta.url), "utf8")) as {
        salt: string
        rtp: string
        vectors: ReadonlyArray<{ key: string; srtp: string }>
      }
      // Node makes a packet under a fresh meeting key (epoch 3); the page must open it, and make one Node opens.
      const meetingKey = Keys.newKey()
      const node = Srtp.protect(Srtp.deriveSessionKeys(meetingKey, 0x5501a0b2), Buffer.from(golden.rtp, "hex"), 0, 3).toString("hex")
      // And one from a sender past a wrap of its sequence numbers (ROC 2), as a late joiner first hears it.
      const wrapped = Srtp.protect(Srtp.deriveSessionKeys(meetingKey, 0x5501a0b2), Buffer.from(golden.rtp, "hex"), 2, 3).toString("hex")
      const result = yield* Effect.promise(() =>
        page.evaluate(
          async ({ golden, node, wrapped, key }) => {
            // The module as the web lookup serves it to browsers (loaded by the script tag below).
            const m = (window as unknown as { srtp: BrowserSrtp }).srtp
            const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)))
            const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
            const vectors = []
            for (const v of golden.vectors) {
              const keys = await m.sessionKeys(hex(v.key), hex(golden.salt))
              const sealed = toHex(await m.protect(keys, hex(golden.rtp), 0))
              const opened = await m.unprotect(keys, hex(v.srtp), 0)
              vectors.push({ sealed, opened: opened === undefined ? undefined : toHex(opened) })
            }
            const ring = m.keyRing("1234567890", "page", { profile: "AEAD_AES_256_GCM", epochs: [{ epoch: 3, key }] })
            // A copy with one payload bit flipped first (refused, and it moves no window), then the real one, then it again.
            const tampered = hex(node)
            tampered[20]! ^= 1
            const refusedTampered = await ring.unprotect("audio", tampered)
            const fromNode = await ring.unprotect("audio", hex(node))
            const replayed = await ring.unprotect("audio", hex(node))
            const late = m.keyRing("1234567890", "late", { profile: "AEAD_AES_256_GCM", epochs: [{ epoch: 3, key }] })
            const fromWrapped = await late.unprotect("audio", hex(wrapped))
            const made = await ring.protect("audio", hex(golden.rtp))
            return {
              vectors,
              fromNode: fromNode === undefined ? undefined : toHex(fromNode),
              refused: refusedTampered === undefined && replayed === undefined,
              counters: ring.counters["audio"],
              made: made === undefined ? undefined : toHex(made),
              fromWrapped: fromWrapped === undefined ? undefined : toHex(fromWrapped),
            }
          },
          { golden, node, wrapped, key: meetingKey.toString("base64") },
        ),
      )
      expect(result.vectors).toEqual(golden.vectors.map((v) => ({ sealed: v.srtp, opened: golden.rtp })))
      expect(result.fromNode).toBe(golden.rtp)
      expect(result.fromWrapped).toBe(golden.rtp)
      expect(result.refused).toBe(true)
      expect(result.counters).toEqual({ decrypted: 1, authFailed: 1, replayed: 1, unknownEpoch: 0, malformed: 0, notSent: 0 })
      const made = Buffer.from(result.made!, "hex")
      expect(Srtp.mkiOf(made)).toBe(3)
      const opened = Srtp.unprotect(Srtp.deriveSessionKeys(meetingKey, 0x5501a0b2), made.subarray(0, made.length - Srtp.MKI_SIZE), 0)
      expect(opened?.toString("hex")).toBe(golden.rtp)
    }),
  )

  it.scoped("a browser tab that dies without a word (its renderer crashed: no Leave, no pagehide) leaves the roster and the MMR within participantTtl + media silence", () =>
    Effect.gen(function* () {
      // participantTtl 3 s (default 15 s) and media silence 3 s: gone within ~6 s of the crash.
      const { web, tls, topology } = yield* TestTopology.startSecured(
        TestTopology.twoZones({
          prefix: "gone",
          timing: { reportInterval: "200 millis", presenceTtl: "1 second", mmrTtl: "1 second", joinTokenTtl: "1 minute", participantTtl: "3 seconds" },
        }),
      )
      const meeting = (yield* Lookup.createMeeting({ web, tls, topic: "departures" })).id
      const cli = yield* Client.join({ web, meeting, name: "Cli", tls, proxy: "none", media: { kinds: ["audio"] } }).pipe(Effect.provide(Connector.nats))
      const { context } = yield* Browser.launch
      const page = yield* Effect.promise(() => context.newPage())
      yield* Effect.promise(() => page.goto(`${web}/j/${meeting}`))
      yield* Effect.promise(() => page.fill("#name", "Ada"))
      yield* Effect.promise(() => page.click("button[type=submit]"))
      yield* until(page, (s) => s.phase === "joined" && s.sent.audio.packets > 0, "browser join")
      const hosted = Effect.map(
        Effect.forEach(topology.mmrs, (m) => m.handle.meetings),
        (all) => all.flatMap((m) => (m.get(meeting) ?? []).map((p) => p.name)).sort(),
      )
      for (let i = 0; i < 50 && (yield* hosted).length < 2; i++) yield* Effect.sleep("100 millis")
      expect(yield* hosted).toEqual(["Ada", "Cli"])
      const left = yield* Effect.fork(
        cli.events.pipe(
          Stream.filter((e) => e._tag === "ParticipantLeft" && e.participant.name === "Ada"),
          Stream.runHead,
        ),
      )
      const crashedAt = performance.now()
      yield* Effect.promise(() => page.goto("chrome://crash").catch(() => undefined))
      const seen = yield* Fiber.join(left).pipe(Effect.timeout("12 seconds"))
      expect(Option.isSome(seen), "the others see Ada leave").toBe(true)
      const ms = performance.now() - crashedAt
      expect(ms, "ms from the crash to the others seeing Ada leave").toBeLessThan(9_000)
      expect(yield* hosted).toEqual(["Cli"])
    }),
    90_000,
  )

  it.scoped("says why it cannot join: an unknown meeting, a wrong passcode", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "e2e2" }), [nats.url])
      const http = yield* Lookup.dispatcher(tls, Option.none())
      const locked = (yield* Lookup.createMeeting(http, new URL(web), { passcode: "s3cret", timeoutMs: 5000 })).id
      const { context } = yield* Browser.launch
      const page = yield* Effect.promise(() => context.newPage())

      yield* Effect.promise(() => page.goto(`${web}/j/1234567890`))
      yield* Effect.promise(() => page.click("button[type=submit]"))
      const unknown = yield* until(page, (s) => s.phase === "failed", "unknown meeting", 50)
      expect(unknown.error).toMatch(/not found|unknown|no meeting/i)
      expect(yield* Effect.promise(() => page.textContent("#status"))).toContain("could not join")

      yield* Effect.promise(() => page.goto(`${web}/j/${locked}`))
      yield* Effect.promise(() => page.fill("#passcode", "wrong"))
      yield* Effect.promise(() => page.click("button[type=submit]"))
      const denied = yield* until(page, (s) => s.phase === "failed", "wrong passcode", 50)
      expect(denied.error).toMatch(/passcode/i)
    }),
  )
})
