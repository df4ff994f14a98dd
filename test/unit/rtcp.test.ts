/**
 * RTCP (RFC 3550 §6): the codec, the receiver statistics behind a report
 * block (A.3), the round trip from LSR/DLSR, the MMR's hop-by-hop handling
 * with clocks the test sets, and the browser's twin against the TypeScript.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import { KindRtcp } from "../../src/actors/client/media-rtcp.js"
import type { MediaEndpoint } from "../../src/actors/mmr/sfu.js"
import { Sfu } from "../../src/actors/mmr/sfu.js"
import * as MediaToken from "../../src/protocol/media-token.js"
import * as Rtcp from "../../src/protocol/rtcp.js"
import { HEADER_SIZE, SourceStats, isRtcp, writeHeader } from "../../src/protocol/rtp.js"
// @ts-expect-error: plain JavaScript, for the browser
import * as BrowserRtcp from "../../web/client/rtcp.js"
// @ts-expect-error: plain JavaScript, for the browser
import * as BrowserRtp from "../../web/client/rtp.js"

const rtp = (ssrc: number, sequence: number, timestamp = sequence * 960) => {
  const p = Buffer.alloc(HEADER_SIZE + 20)
  writeHeader(p, { payloadType: 111, marker: false, sequence, timestamp, ssrc })
  return p
}

const block = (ssrc: number, over: Partial<Rtcp.ReportBlock> = {}): Rtcp.ReportBlock => ({
  ssrc,
  fractionLost: 0,
  cumulativeLost: 0,
  highestSeq: 0,
  jitter: 0,
  lsr: 0,
  dlsr: 0,
  ...over,
})

const arbBlock = fc.record({
  ssrc: fc.nat({ max: 2 ** 32 - 1 }),
  fractionLost: fc.integer({ min: 0, max: 255 }),
  cumulativeLost: fc.integer({ min: -0x800000, max: 0x7fffff }),
  highestSeq: fc.nat({ max: 2 ** 32 - 1 }),
  jitter: fc.nat({ max: 2 ** 32 - 1 }),
  lsr: fc.nat({ max: 2 ** 32 - 1 }),
  dlsr: fc.nat({ max: 2 ** 32 - 1 }),
})

describe("RTCP codec", () => {
  it("round-trips SR, RR, SDES and BYE in one compound packet", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 32 - 1 }),
        fc.array(arbBlock, { maxLength: 31 }),
        fc.array(arbBlock, { maxLength: 31 }),
        fc.string({ maxLength: 60 }),
        (ssrc, srBlocks, rrBlocks, cname) => {
          const parts: Array<Rtcp.RtcpPart> = [
            { type: "SR", ssrc, sender: { ntpSeconds: 3_900_000_000, ntpFraction: 123_456, rtpTimestamp: 960, packets: 50, octets: 8000 }, reports: srBlocks },
            { type: "RR", ssrc: (ssrc ^ 1) >>> 0, reports: rrBlocks },
            { type: "SDES", chunks: [{ ssrc, cname }] },
            { type: "BYE", ssrcs: [ssrc] },
          ]
          const packet = Rtcp.encode(parts)
          expect(isRtcp(packet)).toBe(true)
          const back = Rtcp.decode(packet)!
          expect(back.slice(0, 2)).toEqual(parts.slice(0, 2))
          // CNAMEs are bytes on the wire: at most 255 of them.
          const bytes = Buffer.from(cname).subarray(0, 255)
          expect(back[2]).toEqual({ type: "SDES", chunks: [{ ssrc, cname: new TextDecoder().decode(bytes) }] })
          expect(back[3]).toEqual(parts[3])
          expect(packet.length % 4).toBe(0)
        },
      ),
    )
  })

  it("refuses what does not add up, whole: lengths, first part, truncation — and never throws on arbitrary bytes", () => {
    const good = Rtcp.encode([{ type: "RR", ssrc: 1, reports: [block(2)] }, { type: "SDES", chunks: [{ ssrc: 1, cname: "a" }] }])
    expect(Rtcp.decode(good)).toBeDefined()
    expect(Rtcp.decode(good.subarray(0, good.length - 4))).toBeUndefined() // the SDES cut short
    expect(Rtcp.decode(Buffer.concat([good, Buffer.from([0x80])]))).toBeUndefined() // a stray byte after it
    const sdesFirst = Rtcp.encode([{ type: "SDES", chunks: [{ ssrc: 1, cname: "a" }] }])
    expect(Rtcp.decode(sdesFirst)).toBeUndefined() // a compound packet starts with SR or RR
    const lying = Buffer.from(good)
    lying[0] = 0x80 | 5 // five blocks claimed, one there
    expect(Rtcp.decode(lying)).toBeUndefined()
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void Rtcp.decode(bytes)))
  })

  it("times a round trip from LSR and DLSR, and refuses an impossible one", () => {
    const sentAt = Rtcp.ntpOf(1_800_000_000_000)
    const lsr = Rtcp.compactNtp(sentAt.seconds, sentAt.fraction)
    const back = Rtcp.ntpOf(1_800_000_000_000 + 130) // 100 ms held at the far end, 30 ms on the wire
    const rtt = Rtcp.roundTripMs(Rtcp.compactNtp(back.seconds, back.fraction), { lsr, dlsr: Math.round(0.1 * 65_536) })!
    expect(rtt).toBeCloseTo(30, 0)
    expect(Rtcp.roundTripMs(lsr, { lsr: 0, dlsr: 0 })).toBeUndefined()
    expect(Rtcp.roundTripMs(lsr, { lsr, dlsr: 65_536 })).toBeUndefined() // DLSR longer than the whole trip: a lie or a clock step
  })
})

describe("report blocks (RFC 3550 A.3)", () => {
  it("say what was lost in each interval, and since the start", () => {
    const stats = new SourceStats(48_000)
    for (let s = 0; s < 100; s++) if (s % 10 !== 3) stats.update(rtp(9, s), s * 20) // 10 of 100 lost
    const first = stats.reportBlock()
    expect(first).toMatchObject({ fractionLost: Math.floor((10 * 256) / 100), cumulativeLost: 10, highestSeq: 99 })
    for (let s = 100; s < 200; s++) stats.update(rtp(9, s), s * 20) // none lost
    expect(stats.reportBlock()).toMatchObject({ fractionLost: 0, cumulativeLost: 10, highestSeq: 199 })
    // Past a sequence wrap, the cycles go in the top 16 bits.
    const wrap = new SourceStats(48_000)
    for (let i = 0; i < 20; i++) wrap.update(rtp(9, (65_530 + i) % 65_536), i * 20)
    expect(wrap.reportBlock().highestSeq).toBe(65_536 + 13)
  })

  it("are the same from the browser's statistics", () => {
    const ts = new SourceStats(90_000)
    const browser = new BrowserRtp.SourceStats(90_000)
    for (let s = 0; s < 300; s++) {
      if (s % 7 === 0) continue
      const p = rtp(5, s, s * 3000 + (s % 3) * 90)
      ts.update(p, s * 33)
      browser.update(BrowserRtp.parseRtp(p), p.length, s * 33)
    }
    expect(browser.reportBlock()).toEqual(ts.reportBlock())
  })
})

const endpoint = () => {
  const sent: Array<Buffer> = []
  const e: MediaEndpoint = {
    transport: "udp",
    remote: "test",
    send: (p) => {
      sent.push(p)
      return true
    },
    close: () => {},
  }
  return { sent, e }
}

describe("RTCP at the MMR, hop by hop", () => {
  const setup = () => {
    const clock = { mono: 0 }
    const sfu = new Sfu({ tokens: MediaToken.make(), now: () => clock.mono, rtcpIntervalMs: 1000, cname: "mmr-test" })
    const a = endpoint()
    const b = endpoint()
    const ba = Either.getOrThrow(sfu.bind(sfu.admit("m", "a", { audio: 7 }).audio.udp, "udp", () => a.e))
    const bb = Either.getOrThrow(sfu.bind(sfu.admit("m", "b", { audio: 8 }).audio.udp, "udp", () => b.e))
    return { clock, sfu, a, b, ba, bb }
  }
  const sender = { ntpSeconds: 3_900_000_000, ntpFraction: 0x8000_0000, rtpTimestamp: 960, packets: 10, octets: 200 }

  it("passes a sender's SR on without its report blocks, times the receiver's round trip against it, and keeps the blocks to the hop", () => {
    const { clock, sfu, b, ba, bb } = setup()
    clock.mono = 100
    sfu.forward(ba, Rtcp.encode([{ type: "SR", ssrc: 7, sender, reports: [block(8, { fractionLost: 64 })] }, { type: "SDES", chunks: [{ ssrc: 7, cname: "a" }] }]))
    expect(b.sent).toHaveLength(1)
    const passed = Rtcp.decode(b.sent[0]!)!
    expect(passed).toEqual([
      { type: "SR", ssrc: 7, sender, reports: [] },
      { type: "SDES", chunks: [{ ssrc: 7, cname: "a" }] },
    ])
    // a's report on b's stream stays at the MMR: what a lost of it.
    expect(ba.rtcp.received.get(8)).toMatchObject({ loss: 0.25 })
    // b reports on a's stream 250 ms later, having held the SR for 200 ms: 50 ms round trip.
    clock.mono = 350
    const lsr = Rtcp.compactNtp(sender.ntpSeconds, sender.ntpFraction)
    sfu.forward(bb, Rtcp.encode([{ type: "RR", ssrc: 8, reports: [block(7, { lsr, dlsr: Math.round(0.2 * 65_536) }), block(999, { fractionLost: 255 })] }]))
    expect(bb.rtcp.rttMs).toBeCloseTo(50, 1)
    expect([...bb.rtcp.received.keys()]).toEqual([7]) // an SSRC not in the meeting is not kept
    expect(sfu.rtcp.counters).toMatchObject({ received: 2, senderReportsForwarded: 1, refused: 0 })
  })

  it("reads at most 20 RTCP packets a second from one connection: a flood is dropped unread and counted", () => {
    const { clock, sfu, b, ba } = setup()
    const sr = Rtcp.encode([{ type: "SR", ssrc: 7, sender, reports: Array.from({ length: 31 }, (_, i) => block(1000 + i)) }])
    for (let i = 0; i < 500; i++) sfu.forward(ba, sr)
    expect(sfu.rtcp.counters).toMatchObject({ received: 20, overRate: 480 })
    expect(b.sent).toHaveLength(20)
    clock.mono = 1000
    sfu.forward(ba, sr) // the next second, read again
    expect(sfu.rtcp.counters.received).toBe(21)
  })

  it("passes on no SR from an SSRC its sender did not declare", () => {
    const { sfu, b, ba } = setup()
    sfu.forward(ba, Rtcp.encode([{ type: "SR", ssrc: 8, sender, reports: [] }])) // b's SSRC, from a
    expect(b.sent).toHaveLength(0)
    expect(sfu.rtcp.counters.refused).toBe(1)
  })

  it("reports to each participant on its own stream every interval: loss in the interval, and LSR/DLSR for its round trip", () => {
    const { clock, sfu, a, ba } = setup()
    for (let s = 0; s < 50; s++) if (s % 5 !== 1) sfu.forward(ba, rtp(7, s)) // a fifth lost
    clock.mono = 500
    sfu.forward(ba, Rtcp.encode([{ type: "SR", ssrc: 7, sender, reports: [] }]))
    clock.mono = 600
    a.sent.length = 0
    sfu.sweep(() => {})
    const report = a.sent.map((p) => Rtcp.decode(p)).find((parts) => parts?.[0]?.type === "RR")!
    const rr = report[0] as Extract<Rtcp.RtcpPart, { type: "RR" }>
    expect(rr.ssrc).toBe(sfu.rtcp.ssrc)
    expect(rr.reports[0]).toMatchObject({ ssrc: 7, fractionLost: Math.floor((10 * 256) / 50), cumulativeLost: 10, highestSeq: 49 })
    expect(rr.reports[0]!.lsr).toBe(Rtcp.compactNtp(sender.ntpSeconds, sender.ntpFraction))
    expect(rr.reports[0]!.dlsr).toBe(Math.round(100 * 65.536))
    expect(report[1]).toEqual({ type: "SDES", chunks: [{ ssrc: sfu.rtcp.ssrc, cname: "mmr-test" }] })
    // Not again before the (randomised) interval is up.
    a.sent.length = 0
    clock.mono = 700
    sfu.sweep(() => {})
    expect(a.sent.filter((p) => Rtcp.decode(p) !== undefined)).toHaveLength(0)
  })
})

describe("RTCP at the clients", () => {
  it("a client's SR and blocks, read by the MMR; the MMR's RR, read by the client as its upstream with the round trip", () => {
    let wall = 1_800_000_000_000
    const client = new KindRtcp(7, 48_000, "alice", () => wall)
    for (let s = 0; s < 10; s++) client.noteSent(rtp(7, s), s * 20)
    const remote = new SourceStats(48_000)
    for (let s = 0; s < 20; s++) if (s !== 4) remote.update(rtp(8, s), s * 20)
    const packet = client.compound(new Map([[8, remote]]), 200)
    const parts = Rtcp.decode(packet)!
    expect(parts[0]).toMatchObject({ type: "SR", ssrc: 7, sender: { packets: 10, octets: 200, rtpTimestamp: 9 * 960 + Math.round((200 - 180) * 48) } })
    expect((parts[0] as Extract<Rtcp.RtcpPart, { type: "SR" }>).reports).toEqual([
      { ssrc: 8, fractionLost: Math.floor(256 / 20), cumulativeLost: 1, highestSeq: 19, jitter: expect.any(Number), lsr: 0, dlsr: 0 },
    ])
    expect(parts[1]).toEqual({ type: "SDES", chunks: [{ ssrc: 7, cname: "alice" }] })
    // The MMR answers 40 ms later having held the SR 10 ms: 30 ms round trip.
    const sr = parts[0] as Extract<Rtcp.RtcpPart, { type: "SR" }>
    wall += 40
    client.onPacket(
      Rtcp.encode([{ type: "RR", ssrc: 99, reports: [block(7, { fractionLost: 128, cumulativeLost: 5, jitter: 480, lsr: Rtcp.compactNtp(sr.sender.ntpSeconds, sr.sender.ntpFraction), dlsr: Math.round(10 * 65.536) })] }]),
      240,
    )
    expect(client.report()).toMatchObject({ sent: 1, received: 1, up: { loss: 0.5, lost: 5, jitterMs: 10 } })
    expect(client.report().rttMs).toBeCloseTo(30, 0)
  })

  it("the browser's compound packet is RTCP the TypeScript reads, and it reads the MMR's report", () => {
    const page = new BrowserRtcp.KindRtcp(7, 48_000, "page")
    page.noteSent(rtp(7, 0))
    const remote = new BrowserRtp.SourceStats(48_000)
    for (let s = 0; s < 10; s++) if (s !== 2) remote.update(BrowserRtp.parseRtp(rtp(8, s)), 32, s * 20)
    const packet: Uint8Array = page.compound([[8, remote]])
    expect(BrowserRtcp.isRtcp(packet)).toBe(true)
    const parts = Rtcp.decode(packet)!
    expect(parts[0]).toMatchObject({ type: "SR", ssrc: 7, sender: { packets: 1, octets: 20 }, reports: [{ ssrc: 8, fractionLost: Math.floor(256 / 10), cumulativeLost: 1, highestSeq: 9 }] })
    expect(parts[1]).toEqual({ type: "SDES", chunks: [{ ssrc: 7, cname: "page" }] })
    page.onPacket(Rtcp.encode([{ type: "RR", ssrc: 99, reports: [block(7, { fractionLost: 64, cumulativeLost: 3, jitter: 960 })] }, { type: "SDES", chunks: [{ ssrc: 99, cname: "mmr" }] }]))
    expect(page.report()).toMatchObject({ sent: 1, received: 1, up: { loss: 0.25, lost: 3, jitterMs: 20 } })
  })
})
