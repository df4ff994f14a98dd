/**
 * The SFU's rules, with endpoints that record what they are sent and clocks
 * the test sets: no sockets, no waiting.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import type { MediaEndpoint } from "../../src/actors/mmr/sfu.js"
import { Sfu } from "../../src/actors/mmr/sfu.js"
import type { MediaTransport } from "../../src/protocol/media.js"
import * as MediaToken from "../../src/protocol/media-token.js"
import { HEADER_SIZE, writeHeader } from "../../src/protocol/rtp.js"

const clocks = () => {
  const c = { mono: 0, wall: 1_800_000_000_000 }
  return { c, now: () => c.mono, wallClock: () => c.wall }
}

const recorder = (transport: MediaTransport = "udp") => {
  const sent: Array<Buffer> = []
  const closed: Array<string> = []
  const endpoint: MediaEndpoint = {
    transport,
    remote: "test",
    send: (p, framed) => {
      sent.push(transport === "udp" ? p : framed!)
      return true
    },
    close: (reason) => void closed.push(reason),
  }
  return { sent, closed, endpoint }
}

const rtp = (ssrc: number, sequence = 0) => {
  const p = Buffer.alloc(HEADER_SIZE + 20)
  writeHeader(p, { payloadType: 111, marker: false, sequence, timestamp: sequence * 960, ssrc })
  return p
}

const setup = () => {
  const { c, now, wallClock } = clocks()
  const sfu = new Sfu({ tokens: MediaToken.make(), now, wallClock, silenceMs: 3000, keepaliveMs: 1000, tokenTtlSeconds: 60 })
  return { c, sfu }
}

describe("SFU", () => {
  it("forwards to every other participant of the kind, never back to the sender, framing once for streams", () => {
    const { sfu } = setup()
    const people = ["a", "b", "c"].map((id, i) => {
      const tokens = sfu.admit("m", id, { audio: 100 + i })
      const r = recorder(id === "c" ? "tcp" : "udp")
      const binding = Either.getOrThrow(sfu.bind(tokens.audio[r.endpoint.transport], r.endpoint.transport, () => r.endpoint))
      return { id, r, binding }
    })
    sfu.forward(people[0]!.binding, rtp(100))
    expect(people.map((p) => p.r.sent.length)).toEqual([0, 1, 1])
    expect(people[2]!.r.sent[0]!.readUInt16BE(0)).toBe(HEADER_SIZE + 20) // RFC 4571 prefix for TCP
    expect(sfu.counters.forwarded).toBe(2)
  })

  it("drops a participant's media over its rate and counts it; the next second it flows again; others are untouched", () => {
    const { c } = clocks()
    const sfu = new Sfu({ tokens: MediaToken.make(), now: () => c.mono, wallClock: () => c.wall, maxPacketsPerSecond: 50, maxBytesPerSecond: 1_000_000 })
    const people = ["flood", "quiet", "listener"].map((id, i) => {
      const tokens = sfu.admit("m", id, { audio: 200 + i })
      const r = recorder()
      return { r, binding: Either.getOrThrow(sfu.bind(tokens.audio.udp, "udp", () => r.endpoint)) }
    })
    const [flood, quiet, listener] = people as [(typeof people)[0], (typeof people)[0], (typeof people)[0]]
    for (let i = 0; i < 500; i++) sfu.forward(flood.binding, rtp(200, i))
    for (let i = 0; i < 10; i++) sfu.forward(quiet.binding, rtp(201, i))
    expect(flood.binding.stats.overRate).toBe(450)
    expect(sfu.counters.overRate).toBe(450)
    expect(listener.r.sent.length).toBe(50 + 10) // 50 of the flood, all of the quiet one
    c.mono += 1000
    sfu.forward(flood.binding, rtp(200, 500))
    expect(listener.r.sent.length).toBe(61)
  })

  it("refuses an expired token, a replayed one, and one for a participant who left", () => {
    const { c, sfu } = setup()
    const tokens = sfu.admit("m", "a", {})
    c.wall += 61_000
    expect(sfu.bind(tokens.audio.udp, "udp", () => recorder().endpoint)).toEqual(Either.left("expired"))
    const fresh = sfu.admit("m", "a", {})
    expect(Either.isRight(sfu.bind(fresh.audio.udp, "udp", () => recorder().endpoint))).toBe(true)
    expect(sfu.bind(fresh.audio.udp, "udp", () => recorder().endpoint)).toEqual(Either.left("replayed"))
    sfu.remove("m", "a")
    expect(sfu.bind(fresh.video.udp, "udp", () => recorder().endpoint)).toEqual(Either.left("unknown-participant"))
    expect(sfu.counters).toMatchObject({ expired: 1, replayed: 1, unknownParticipant: 1, bound: 1 })
  })

  it("replaces a participant's connection of a kind, closing the old one", () => {
    const { sfu } = setup()
    const tokens = sfu.admit("m", "a", {})
    const first = recorder("udp")
    const second = recorder("tcp")
    sfu.bind(tokens.video.udp, "udp", () => first.endpoint)
    sfu.bind(tokens.video.tcp, "tcp", () => second.endpoint)
    expect(first.closed).toEqual(["replaced by a tcp connection"])
    expect(sfu.bindings()).toEqual({ udp: 0, tcp: 1, tls: 0 })
  })

  it("closes what has been silent past the limit and keeps the rest alive with keepalives", () => {
    const { c, sfu } = setup()
    const a = recorder()
    const b = recorder()
    const ta = sfu.admit("m", "a", {})
    const tb = sfu.admit("m", "b", {})
    const ba = Either.getOrThrow(sfu.bind(ta.audio.udp, "udp", () => a.endpoint))
    sfu.bind(tb.audio.udp, "udp", () => b.endpoint)
    const keptAlive: Array<unknown> = []
    c.mono = 2000
    sfu.heard(ba) // a speaks; b says nothing
    sfu.sweep((x) => keptAlive.push(x))
    expect(keptAlive).toHaveLength(2) // both idle from our side for 2 s
    c.mono = 3001
    sfu.sweep(() => {})
    expect(b.closed).toEqual(["silent for 3001 ms"])
    expect(a.closed).toEqual([])
    expect(sfu.counters.closedSilent).toBe(1)
  })

  it("a sender that declared no SSRC keeps the first it sent: another SSRC on its connection is refused and counted", () => {
    const { sfu } = setup()
    const a = recorder()
    const b = recorder()
    const ba = Either.getOrThrow(sfu.bind(sfu.admit("m", "a", {}).audio.udp, "udp", () => a.endpoint))
    sfu.bind(sfu.admit("m", "b", {}).audio.udp, "udp", () => b.endpoint)
    for (let i = 0; i < 100; i++) sfu.forward(ba, rtp(i % 2 === 0 ? 5 : 1000 + i, i)) // a spray of new SSRCs between its own
    expect(b.sent).toHaveLength(50)
    expect(b.sent.every((p) => p.readUInt32BE(8) === 5)).toBe(true)
    expect(sfu.counters).toMatchObject({ refused: 50, forwarded: 50 })
    // A new connection (a fresh token) may start a new stream.
    const again = Either.getOrThrow(sfu.bind(sfu.admit("m", "a", {}).audio.tcp, "tcp", () => a.endpoint))
    sfu.forward(again, rtp(9, 0))
    expect(b.sent).toHaveLength(51)
  })

  it("keeps RTCP to its hop, and drops (counting) what is neither RTP nor RTCP, or carries someone else's SSRC", () => {
    const { sfu } = setup()
    const a = recorder()
    const b = recorder()
    const ba = Either.getOrThrow(sfu.bind(sfu.admit("m", "a", { audio: 7 }).audio.udp, "udp", () => a.endpoint))
    sfu.bind(sfu.admit("m", "b", {}).audio.udp, "udp", () => b.endpoint)
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 7]) // an RR with no blocks: ends at the MMR
    sfu.forward(ba, rr)
    sfu.forward(ba, Buffer.from([0x80, 99, 1])) // version 2, but too short for anything
    sfu.forward(ba, Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 7])) // an SR whose length leaves no room for sender info
    sfu.forward(ba, rtp(8)) // not a's SSRC
    sfu.forward(ba, rtp(7))
    expect(b.sent).toHaveLength(1)
    expect(sfu.counters).toMatchObject({ malformed: 2, refused: 1, forwarded: 1 })
    expect(sfu.rtcp.counters.received).toBe(1)
  })
})
