/**
 * VP8 in RTP (src/protocol/vp8.ts) and IVF from ffmpeg (vp8-video.ts):
 * frames split and put back together whole, a gap costs the frames until
 * the next key frame, and IVF read whatever the pipe's chunking.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import * as Vp8 from "../../src/protocol/vp8.js"
import { payloadType } from "../../src/protocol/media.js"
import { HEADER_SIZE, writeHeader } from "../../src/protocol/rtp.js"
import { IvfReader } from "../../src/actors/client/vp8-video.js"

/** A key frame's first 10 bytes (RFC 6386 §9.1) for a width × height picture, then `rest`. */
const keyFrame = (width: number, height: number, rest: Uint8Array) => {
  const f = new Uint8Array(10 + rest.length)
  f.set([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, width & 0xff, width >> 8, height & 0xff, height >> 8])
  f.set(rest, 10)
  return f
}
const deltaFrame = (rest: Uint8Array) => Uint8Array.from([0x31, ...rest])

/** RTP packets of `frames`, one timestamp each, sequence numbers running on. */
const packetsOf = (frames: ReadonlyArray<Uint8Array>, room?: number) => {
  let sequence = 65_530 // wraps within a few frames
  return frames.flatMap((frame, i) =>
    Vp8.packetize(frame, room).map(({ payload, last }) => {
      const packet = new Uint8Array(HEADER_SIZE + payload.length)
      writeHeader(packet, { payloadType: payloadType.video, marker: last, sequence, timestamp: i * 6000, ssrc: 7 })
      packet.set(payload, HEADER_SIZE)
      sequence = (sequence + 1) & 0xffff
      return { packet, payload }
    }),
  )
}

describe("VP8 in RTP", () => {
  it("a key frame says its picture size; a delta frame is not a key frame", () => {
    expect(Vp8.keyFrameSize(keyFrame(320, 240, new Uint8Array(4)))).toEqual({ width: 320, height: 240 })
    expect(Vp8.isKeyFrame(deltaFrame(new Uint8Array(20)))).toBe(false)
    expect(Vp8.keyFrameSize(deltaFrame(new Uint8Array(20)))).toBeUndefined()
  })

  it("frames of any size come back whole and in order, whatever the packet size (property)", () =>
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 5000 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 16, max: 1187 }), (bodies, room) => {
        const frames = [keyFrame(640, 360, bodies[0]!), ...bodies.slice(1).map(deltaFrame)]
        const assembler = new Vp8.Assembler(payloadType.video)
        const out = packetsOf(frames, room).flatMap(({ packet, payload }) => assembler.push(packet, payload) ?? [])
        expect(out.map((f) => [...f.data])).toEqual(frames.map((f) => [...f]))
        expect(out.map((f) => f.key)).toEqual(frames.map((_, i) => i === 0))
        expect(assembler.framesDropped).toBe(0)
      }),
    ))

  it("a lost packet drops its frame and every delta frame after it, until the next key frame", () => {
    const big = new Uint8Array(3000).fill(7)
    const frames = [keyFrame(320, 240, big), deltaFrame(big), deltaFrame(big), keyFrame(320, 240, big), deltaFrame(big)]
    const packets = packetsOf(frames)
    // The second frame's second packet is lost.
    const lost = packets.findIndex((p, i) => i > 0 && p.packet[1]! & 0x80) + 2
    const assembler = new Vp8.Assembler(payloadType.video)
    const out = packets.filter((_, i) => i !== lost).flatMap(({ packet, payload }) => assembler.push(packet, payload) ?? [])
    expect(out.map((f) => f.timestamp)).toEqual([0, 18_000, 24_000])
    expect(assembler.framesDropped).toBe(2)
  })

  it("nothing before the first key frame; other payload types ignored", () => {
    const assembler = new Vp8.Assembler(payloadType.video)
    const [delta] = packetsOf([deltaFrame(new Uint8Array(50))])
    expect(assembler.push(delta!.packet, delta!.payload)).toBeUndefined()
    const [key] = packetsOf([keyFrame(16, 16, new Uint8Array(50))])
    key!.packet[1] = (key!.packet[1]! & 0x80) | payloadType.audio
    expect(assembler.push(key!.packet, key!.payload)).toBeUndefined()
  })
})

describe("IVF, as ffmpeg streams it", () => {
  const ivf = (frames: ReadonlyArray<Uint8Array>, rate = 15, scale = 1) => {
    const header = Buffer.alloc(32)
    header.write("DKIF", 0, "latin1")
    header.writeUInt16LE(32, 6)
    header.write("VP80", 8, "latin1")
    header.writeUInt32LE(rate, 16)
    header.writeUInt32LE(scale, 20)
    return Buffer.concat([header, ...frames.flatMap((f, i) => {
      const h = Buffer.alloc(12)
      h.writeUInt32LE(f.length, 0)
      h.writeBigUInt64LE(BigInt(i), 4)
      return [h, Buffer.from(f)]
    })])
  }

  it("reads every frame with its 90 kHz time, however the bytes are cut (property)", () =>
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }), (frames, cuts) => {
        const bytes = ivf(frames)
        const reader = new IvfReader()
        const out: Array<{ frame: Uint8Array; ticks: number }> = []
        let at = 0
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length]!
          out.push(...reader.push(bytes.subarray(at, at + n)))
          at += n
        }
        expect(out.map((f) => [...f.frame])).toEqual(frames.map((f) => [...f]))
        expect(out.map((f) => f.ticks)).toEqual(frames.map((_, i) => i * 6000))
      }),
    ))

  it("refuses what is not IVF", () => {
    expect(() => new IvfReader().push(Buffer.alloc(40))).toThrow("not IVF")
  })
})
