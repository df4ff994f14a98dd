/**
 * RTCP between clients and the MMR (RFC 3550, muxed with RTP, RFC 5761), on
 * a real nats-server with real sockets: each side learns loss, jitter and
 * round trip of every stream both ways, over UDP and over TCP (length-framed,
 * RFC 4571), and a standard tool (tshark, on a tcpdump capture) decodes the
 * packets as sender reports, receiver reports and SDES.
 */
import { execFile } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { promisify } from "node:util"
import { expect, layer } from "@effect/vitest"
import { Effect, Exit, Option, Schedule, Scope, Stream } from "effect"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import * as Metrics from "../../src/apps/metrics.js"
import * as Rtp from "../../src/protocol/rtp.js"
import * as Connector from "../../src/transports/connector.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as Pcap from "../support/pcap.js"
import * as TestTopology from "../support/topology.js"

const run = promisify(execFile)

/** Audio at 50 packets a second with every fourth sequence number never sent: 25 % lost, as any receiver counts it. */
const gappedAudio = (ssrc: number) =>
  Stream.iterate(0, (i) => i + 1).pipe(
    Stream.filter((i) => i % 4 !== 3),
    Stream.map((i) => {
      const packet = Buffer.alloc(Rtp.HEADER_SIZE + 160)
      Rtp.writeHeader(packet, { payloadType: 111, marker: i === 0, sequence: i & 0xffff, timestamp: i * 960, ssrc })
      return packet as Uint8Array
    }),
    Stream.schedule(Schedule.spaced("20 millis")),
    Stream.take(1000),
  )

layer(serverWithClient, { excludeTestServices: true, timeout: "90 seconds" })("RTCP", (it) => {
  it.scoped("both ends of every connection know loss, jitter and round trip of each stream, and tshark reads the reports", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls, topology } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "rtcp", media: { rtcpInterval: "300 millis" } }), [nats.url])
      const dir = mkdtempSync(joinPath(tmpdir(), "meetzone-rtcp-"))
      const file = joinPath(dir, "meeting.pcap")
      const captureScope = yield* Scope.make()
      yield* Pcap.capture(file).pipe(Scope.extend(captureScope))

      const http = yield* Lookup.dispatcher(tls, Option.none())
      const meeting = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
      const join = (name: string, transport: "udp" | "tcp", gapped: boolean) =>
        Client.join({
          web,
          meeting,
          name,
          tls,
          proxy: "none",
          media: { kinds: ["audio"], transports: [transport], rtcpIntervalMs: 300, ...(gapped ? { sources: { audio: gappedAudio } } : {}) },
        })
      // Ada's stream loses a quarter of its packets (sequence gaps); Bob's loses none.
      const ada = yield* join("Ada", "udp", true)
      const bob = yield* join("Bob", "tcp", false)
      yield* Effect.sleep("2500 millis")
      const [adaReport, bobReport] = [(yield* ada.finalReport).media![0]!, (yield* bob.finalReport).media![0]!]
      yield* Scope.close(captureScope, Exit.void)

      // Each client: the MMR's reports on its own stream, with a round trip; and its own count of what it gets.
      for (const [who, r, upLoss, downLoss] of [["Ada", adaReport, 0.25, 0], ["Bob", bobReport, 0, 0.25]] as const) {
        expect(r.rtcp, who).toBeDefined()
        expect(r.rtcp!.sent, `${who}: reports sent`).toBeGreaterThanOrEqual(4)
        expect(r.rtcp!.received, `${who}: reports received`).toBeGreaterThanOrEqual(4)
        // One report's interval holds 7 to 22 packets (300 ms, randomised): about a quarter of them lost.
        expect(Math.abs(r.rtcp!.up!.loss - upLoss), `${who}: upstream loss ${r.rtcp!.up!.loss}`).toBeLessThanOrEqual(upLoss === 0 ? 0 : 0.12)
        if (upLoss === 0) expect(r.rtcp!.up!.lost, `${who}: upstream lost`).toBe(0)
        expect(r.rtcp!.up!.jitterMs).toBeLessThan(50)
        expect(r.rtcp!.rttMs, `${who}: round trip`).toBeGreaterThanOrEqual(0)
        expect(r.rtcp!.rttMs!).toBeLessThan(200)
        expect(r.loss, `${who}: downstream loss`).toBeCloseTo(downLoss, 1)
      }
      expect(adaReport.rtcp!.up!.lost).toBeGreaterThan(10)

      // The MMR: both directions of each connection.
      const mmr = topology.mmrs.find((m) => m.id === ada.joined.mmr)!.handle.media!.sfu
      const adaAt = mmr.bindingOf(meeting, ada.info.participant.id, "audio")!
      const bobAt = mmr.bindingOf(meeting, bob.info.participant.id, "audio")!
      expect(adaAt.endpoint.transport).toBe("udp")
      expect(bobAt.endpoint.transport).toBe("tcp")
      // What Ada reports of Bob's stream as it reached her, and what Bob reports of Ada's.
      expect(adaAt.rtcp.received.get(bob.ssrcs.audio >>> 0)).toMatchObject({ loss: 0 })
      expect(Math.abs(bobAt.rtcp.received.get(ada.ssrcs.audio >>> 0)!.loss - 0.25)).toBeLessThanOrEqual(0.12)
      expect(Math.abs(adaAt.rtcp.upLoss - 0.25)).toBeLessThanOrEqual(0.12)
      expect(bobAt.rtcp.upLoss).toBe(0)
      for (const b of [adaAt, bobAt]) {
        expect(b.rtcp.rttMs).toBeDefined()
        expect(b.rtcp.rttMs!).toBeLessThan(200)
        expect(b.rtcp.reportsOut).toBeGreaterThanOrEqual(4)
      }
      const q = mmr.quality()["audio"]!
      expect(q.in.connections).toBe(2)
      expect(q.out.reports).toBe(2)
      expect(q.rtt.connections).toBe(2)
      expect(mmr.counters.malformed).toBe(0)
      // And in the metrics, both directions: Ada's quarter lost on the way in, Bob's report of it on the way out.
      const metrics = Metrics.registry(topology)
      const text = yield* Effect.promise(() => metrics.registry.metrics())
      metrics.close()
      const value = (name: string, direction: string) =>
        Number(new RegExp(`^${name}\\{[^}]*mmr="${ada.joined.mmr}"[^}]*kind="audio",direction="${direction}"\\} (\\S+)$`, "m").exec(text)?.[1])
      expect(value("meetzone_mmr_stream_loss_ratio", "in")).toBeGreaterThan(0.05) // the mean of Ada's ~0.25 and Bob's 0
      expect(value("meetzone_mmr_stream_loss_ratio", "out")).toBeGreaterThan(0.05) // the mean of Bob's ~0.25 and Ada's 0
      expect(text).toMatch(new RegExp(`meetzone_mmr_rtt_ms\\{[^}]*mmr="${ada.joined.mmr}"[^}]*\\} `))
      expect(text).toMatch(/meetzone_mmr_rtcp_packets_total\{[^}]*direction="in"\} [1-9]/)

      // tshark, as an operator would run it: the media port decoded as RTP, RTCP found by its packet types (RFC 5761).
      const port = ada.joined.media!.port
      const { stdout } = yield* Effect.promise(() =>
        run("tshark", ["-r", file, "-n", "-d", `udp.port==${port},rtp`, "-Y", "rtcp", "-T", "fields", "-E", "separator=;", "-e", "udp.dstport", "-e", "rtcp.pt", "-e", "rtcp.senderssrc", "-e", "rtcp.ssrc.identifier", "-e", "rtcp.ssrc.fraction", "-e", "rtcp.sdes.text"], {
          maxBuffer: 16 * 1024 * 1024,
        }),
      )
      const hex = (ssrc: number) => `0x${(ssrc >>> 0).toString(16).padStart(8, "0")}`
      const rows = stdout.trim().split("\n").filter(Boolean).map((l) => l.split(";"))
      const toMmr = rows.filter((r) => r[0] === String(port))
      const fromMmr = rows.filter((r) => r[0] !== String(port))
      // Ada's own: SR about her SSRC with a block on Bob's, then SDES with her CNAME.
      expect(toMmr.some((r) => r[1]!.startsWith("200") && r[2] === hex(ada.ssrcs.audio) && r[3]!.includes(hex(bob.ssrcs.audio)))).toBe(true)
      expect(toMmr.some((r) => r[5]!.includes(ada.info.participant.id))).toBe(true)
      // To her: the MMR's RR about her stream, and Bob's SR passed on.
      expect(fromMmr.some((r) => r[1]!.startsWith("201") && r[2] === hex(mmr.rtcp.ssrc) && r[3]!.includes(hex(ada.ssrcs.audio)) && r[5]!.includes("mmr-"))).toBe(true)
      expect(fromMmr.some((r) => r[1]!.startsWith("200") && r[2] === hex(bob.ssrcs.audio))).toBe(true)
    }).pipe(Effect.provide(Connector.nats)),
  )
})
