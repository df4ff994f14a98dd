/**
 * The native data path on real sockets: npm ci must have built it (CI fails,
 * never skips, when it did not); what one event sends goes out with each
 * datagram's own DSCP even when kinds interleave (tcpdump reads the TOS
 * byte), nothing is lost on the way; what comes in arrives in batches whole,
 * each datagram with its sender, an oversized one dropped and counted; a
 * closed port's number is free at once; bad arguments are a TypeError, and
 * with MEETZONE_NATIVE=0 the same port is dgram's.
 */
import { createSocket } from "node:dgram"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { vi } from "vitest"
import * as NativeUdp from "../../src/transports/media/native-udp.js"
import * as Udp from "../../src/transports/media/udp.js"
import * as Pcap from "../support/pcap.js"

const marks = [46, 34, 26] as const

/** A receiver on loopback counting what reaches it. */
const receiver = Effect.acquireRelease(
  Effect.async<{ port: number; got: Array<Buffer>; close: () => void }>((resume) => {
    const socket = createSocket("udp4")
    const got: Array<Buffer> = []
    socket.on("message", (m) => void got.push(m))
    socket.bind(0, "127.0.0.1", () => resume(Effect.succeed({ port: socket.address().port, got, close: () => socket.close() })))
  }),
  (r) => Effect.sync(r.close),
)

/** 300 datagrams, kinds interleaved, 30 per event: each says its kind (byte 0) and number. */
const sendInterleaved = (port: Udp.UdpPort, to: number) =>
  Effect.gen(function* () {
    for (let burst = 0; burst < 10; burst++) {
      for (let i = 0; i < 30; i++) {
        const n = burst * 30 + i
        const packet = Buffer.alloc(200)
        packet[0] = n % 3
        packet.writeUInt16BE(n, 1)
        port.send(packet, to, "127.0.0.1", marks[n % 3]!)
      }
      yield* Effect.sleep("5 millis")
    }
  })

describe("native UDP data path", () => {
  it.scopedLive("is built, and sends each datagram with its own DSCP in batches, losing none", () =>
    Effect.gen(function* () {
      expect(NativeUdp.status(), "npm ci builds the addon (binding.gyp); CI must have it").toMatch(/^native/)
      const dir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "meetzone-native-")))
      const r = yield* receiver
      const port = yield* Effect.acquireRelease(Effect.promise(() => Udp.open({ host: "127.0.0.1", port: 0, onMessage: () => {} })), (p) => Effect.promise(p.close))
      expect(port.native).toBe(true)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Pcap.capture(join(dir, "marks.pcap"), ["udp", "and", "dst", "port", String(r.port)])
          // "listening on" comes a moment before the capture does.
          yield* Effect.sleep("500 millis")
          yield* sendInterleaved(port, r.port)
          for (let i = 0; i < 100 && r.got.length < 300; i++) yield* Effect.sleep("10 millis")
          // tcpdump writes what it saw a moment after it saw it.
          yield* Effect.sleep("500 millis")
        }),
      )
      expect(r.got.length).toBe(300)
      expect(new Set(r.got.map((m) => m.readUInt16BE(1))).size).toBe(300)
      const captured = Pcap.udpDatagrams(join(dir, "marks.pcap")).filter((d) => d.src === port.port)
      // tcpdump itself misses some in a burst (seen: runs of 10–15); every one it saw must carry its kind's mark.
      expect(captured.length).toBeGreaterThan(150)
      const wrong = captured.filter((d) => d.tos >> 2 !== marks[d.payload[0]!])
      expect(wrong.map((d) => ({ kind: d.payload[0], tos: d.tos }))).toEqual([])
      expect(port.errors()).toBe(0)
    }),
  )

  it.scopedLive("receives floods from several senders in batches, each datagram with its sender; drops and counts what it cannot take", () =>
    Effect.gen(function* () {
      const got: Array<{ sender: number; n: number; address: string; port: number }> = []
      const port = yield* Effect.acquireRelease(
        Effect.promise(() =>
          Udp.open({
            host: "127.0.0.1",
            port: 0,
            onMessage: (packet, address, from) => {
              if (packet[0] === 0xee) throw new Error("a handler that fails on one datagram")
              got.push({ sender: packet[0]!, n: packet.readUInt16BE(1), address, port: from })
            },
          }),
        ),
        (p) => Effect.promise(p.close),
      )
      expect(port.native).toBe(true)
      const socketOf = yield* Effect.forEach([0, 1, 2], () =>
        Effect.acquireRelease(
          Effect.async<import("node:dgram").Socket>((resume) => {
            const s = createSocket("udp4")
            s.bind(0, "127.0.0.1", () => resume(Effect.succeed(s)))
          }),
          (s) => Effect.sync(() => s.close()),
        ),
      )
      // 3 senders × 1,000 datagrams of 1,200 B, in bursts of 100 each (more than one recvmmsg batch of 64).
      for (let burst = 0; burst < 10; burst++) {
        for (let sender = 0; sender < 3; sender++)
          for (let i = 0; i < 100; i++) {
            const packet = Buffer.alloc(1200, 7)
            packet[0] = sender
            packet.writeUInt16BE(burst * 100 + i, 1)
            socketOf[sender]!.send(packet, port.port, "127.0.0.1")
          }
        yield* Effect.sleep("5 millis")
      }
      // Too large for a receive slot (2,048 B), and one its handler throws on: both dropped and counted, nothing else lost.
      socketOf[0]!.send(Buffer.alloc(3000, 1), port.port, "127.0.0.1")
      socketOf[0]!.send(Buffer.from([0xee, 0, 0]), port.port, "127.0.0.1")
      socketOf[1]!.send(Buffer.from([1, 0xff, 0xff]), port.port, "127.0.0.1")
      for (let i = 0; i < 200 && got.length < 3001; i++) yield* Effect.sleep("10 millis")
      expect(got.length).toBe(3001)
      for (const sender of [0, 1, 2]) {
        const mine = got.filter((g) => g.sender === sender && g.n !== 0xffff)
        expect(mine.map((g) => g.n)).toEqual(Array.from({ length: 1000 }, (_, i) => i)) // all of them, in order
        expect(new Set(mine.map((g) => `${g.address}:${g.port}`))).toEqual(new Set([`127.0.0.1:${socketOf[sender]!.address().port}`]))
      }
      expect(port.errors()).toBe(2)
    }),
  )

  it.scopedLive("frees its port number when closed (at once), and says EADDRINUSE for a taken one", () =>
    Effect.gen(function* () {
      const first = yield* Effect.promise(() => Udp.open({ host: "127.0.0.1", port: 0, onMessage: () => {} }))
      expect(first.native).toBe(true)
      const taken = yield* Effect.flip(Effect.tryPromise(() => Udp.open({ host: "127.0.0.1", port: first.port, onMessage: () => {} })))
      expect((taken.error as NodeJS.ErrnoException).code).toBe("EADDRINUSE")
      yield* Effect.promise(first.close)
      const again = yield* Effect.promise(() => Udp.open({ host: "127.0.0.1", port: first.port, onMessage: () => {} }))
      expect(again.port).toBe(first.port)
      yield* Effect.promise(again.close)
      yield* Effect.promise(again.close) // twice is harmless
    }),
  )

  it("refuses malformed arguments with a TypeError, not a crash", () => {
    const loaded = NativeUdp.load()
    if (!("addon" in loaded)) throw new Error(`the addon did not load: ${loaded.unavailable}`)
    const { sendBatch } = loaded.addon
    expect(() => (sendBatch as unknown as (...a: Array<unknown>) => number)(0, [], new Int32Array(1))).toThrow(TypeError)
    expect(() => sendBatch(0, [], new Int32Array(4), new Uint32Array(4), new Int32Array(4), 5000)).toThrow(/count is 0\.\.1024/)
    expect(() => sendBatch(0, ["not a buffer" as unknown as Buffer], new Int32Array(1), new Uint32Array(1), new Int32Array(1), 1)).toThrow(TypeError)
    expect(() => sendBatch(0, [], new Float64Array(4) as unknown as Int32Array, new Uint32Array(4), new Int32Array(4), 1)).toThrow(TypeError)
    const { receive, open, close } = loaded.addon
    expect(() => receive(0, () => {}, new Int32Array(1), new Uint32Array(64), new Int32Array(64))).toThrow(/each at least recvBatch long/)
    expect(() => (receive as unknown as (...a: Array<unknown>) => object)(0, "not a function", new Int32Array(64), new Uint32Array(64), new Int32Array(64))).toThrow(TypeError)
    expect(() => open(0x7f000001, 70_000, 0)).toThrow(TypeError)
    expect(() => close({})).toThrow(TypeError)
  })

  it.scopedLive("with MEETZONE_NATIVE=0 the port sends through dgram, and says why", () =>
    Effect.gen(function* () {
      vi.stubEnv("MEETZONE_NATIVE", "0")
      vi.resetModules()
      yield* Effect.addFinalizer(() => Effect.sync(() => vi.unstubAllEnvs()))
      const Fresh = yield* Effect.promise(() => import("../../src/transports/media/udp.js"))
      const Status = yield* Effect.promise(() => import("../../src/transports/media/native-udp.js"))
      expect(Status.status()).toBe("pure TypeScript: MEETZONE_NATIVE=0")
      const r = yield* receiver
      const port = yield* Effect.acquireRelease(Effect.promise(() => Fresh.open({ host: "127.0.0.1", port: 0, onMessage: () => {} })), (p) => Effect.promise(p.close))
      expect(port.native).toBe(false)
      yield* sendInterleaved(port, r.port)
      for (let i = 0; i < 100 && r.got.length < 300; i++) yield* Effect.sleep("10 millis")
      expect(r.got.length).toBe(300)
    }),
  )
})
