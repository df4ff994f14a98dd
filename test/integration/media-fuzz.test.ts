/**
 * Fuzzing the media ports: 100,000 random and mutated datagrams and frames
 * (seeded, so a failure can be replayed) at UDP, TCP and TLS while bound
 * participants talk. The MMR must keep forwarding for them, count what it
 * drops, and never bind a forged token.
 */
import { randomBytes } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { HEADER_SIZE, writeHeader } from "../../src/protocol/rtp.js"
import * as Stun from "../../src/protocol/stun.js"
import { joined, open, plane, until } from "../support/media-peer.js"

/** mulberry32: small, seeded, good enough to spread bytes. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const SEED = Number(process.env["MEETZONE_FUZZ_SEED"] ?? 0x5eed)

describe("media port fuzzing", () => {
  it.scopedLive(`keeps forwarding, counts the garbage, and never binds a forged token (seed ${SEED})`, () =>
    Effect.gen(function* () {
      const random = prng(SEED)
      const int = (n: number) => Math.floor(random() * n)
      const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)))
      const p = yield* plane()
      const ada = yield* joined(p, "ada", "audio", "udp")
      const grace = yield* joined(p, "grace", "audio", "tcp")
      const linus = yield* joined(p, "linus", "audio", "tls")
      // Mallory binds for real, so her token is spent: every copy of it, mutated
      // or not, must now be refused (replayed or forged).
      const mallory = yield* joined(p, "mallory", "audio", "udp")
      const legit = mallory.tokens

      // What fuzz can be made of: noise, RTP from nowhere, STUN with broken or forged tokens.
      // Always a change (XOR with 1..255): an unchanged legitimate request would rightly bind.
      const mutate = (b: Buffer) => {
        const copy = Buffer.from(b)
        for (let i = 0, n = 1 + int(4); i < n; i++) copy[int(copy.length)] ^= 1 + int(255)
        return int(4) === 0 ? copy.subarray(0, int(copy.length)) : copy
      }
      const forgedToken = () => {
        const t = legit.audio.udp.split("")
        t[int(t.length)] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[int(26)]!
        return t.join("")
      }
      const packet = (): Buffer => {
        switch (int(5)) {
          case 0:
            return bytes(int(1500))
          case 1: {
            const rtp = Buffer.alloc(HEADER_SIZE + int(1200))
            writeHeader(rtp, { payloadType: int(128), marker: false, sequence: int(65536), timestamp: int(2 ** 32), ssrc: int(2 ** 32) })
            return rtp
          }
          case 2:
            return mutate(Stun.bindingRequest(randomBytes(12), legit.audio.udp))
          case 3:
            return Stun.bindingRequest(randomBytes(12), forgedToken())
          default:
            return Buffer.concat([Buffer.from([int(4)]), bytes(int(60))])
        }
      }

      // Talk throughout: ada's packets must keep reaching grace and linus, who only
      // listen, and say so with keepalives as clients do (else the MMR closes them as silent).
      let talking = true
      const keepalive = Stun.bindingIndication(randomBytes(12))
      yield* Effect.forkScoped(
        Effect.whileLoop({
          while: () => talking,
          body: () =>
            Effect.zipRight(
              Effect.sync(() => {
                ada.send(5)
                grace.socket.send(keepalive)
                linus.socket.send(keepalive)
              }),
              Effect.sleep("10 millis"),
            ),
          step: () => {},
        }),
      )

      const TOTAL = 100_000
      let sent = 0
      // UDP: 60 % from a few sources, paced so the kernel delivers rather than drops them.
      const udpSockets = yield* Effect.forEach([0, 1, 2, 3], () => open(p, "udp"))
      for (; sent < TOTAL * 0.6; sent++) {
        udpSockets[sent % 4]!.send(packet())
        if (sent % 25 === 0) yield* Effect.sleep("1 millis")
      }
      // TCP and TLS: 40 % as frames. Half the connections bind first (as a fresh
      // participant), so garbage also reaches a bound connection's parser; the
      // other half get one packet, which is all an unbound connection gets before
      // the MMR hangs up. A broken frame closes a connection; the next is opened.
      let streamParticipants = 0
      for (const transport of ["tcp", "tls"] as const) {
        for (let i = 0; i < TOTAL * 0.2; ) {
          const bound = int(2) === 0
          const conn = bound
            ? (yield* joined(p, `eve-${++streamParticipants}`, "video", transport)).socket
            : yield* open(p, transport)
          let closed = false
          conn.onClose(() => void (closed = true))
          for (let n = 0; n < (bound ? 500 : 1) && !closed && i < TOTAL * 0.2; n++, i++, sent++) {
            // Mostly well-framed garbage; now and then a broken frame, which ends the connection.
            if (int(100) === 0) (conn as unknown as { send(b: Buffer): boolean }).send(bytes(1 + int(8)))
            else {
              const body = packet()
              if (body.length > 0) conn.send(body)
            }
            if (n % 100 === 0) yield* Effect.sleep("1 millis")
          }
          conn.close()
        }
      }
      expect(sent).toBe(TOTAL)
      const counted = (c: typeof p.media.sfu.counters) =>
        c.unbound + c.malformed + c.forged + c.replayed + c.unknownParticipant + c.refused

      // After all that: forwarding still works, for every transport.
      talking = false
      yield* Effect.sleep("50 millis")
      const mark = { grace: grace.received.length, linus: linus.received.length }
      expect(mark.grace).toBeGreaterThan(0)
      ada.send(100)
      yield* until(() => grace.received.length >= mark.grace + 100 && linus.received.length >= mark.linus + 100, "ada's last 100 packets")

      const c = p.media.sfu.counters
      // ada, grace, linus, mallory and the fuzzing participants bound with their own
      // tokens; nothing forged or replayed ever did.
      expect(c.bound).toBe(4 + streamParticipants)
      expect(c.replayed).toBeGreaterThan(0) // mutants that kept mallory's spent token intact
      // Nearly all the fuzz reached the parsers and was counted by cause (~96 %; the
      // rest: frames after a broken one, empty bodies, garbage that happened to be a
      // well-formed keepalive). UDP is paced so the kernel does not drop it first.
      expect(counted(c)).toBeGreaterThan(TOTAL * 0.9)
      console.log(`fuzzed ${TOTAL} packets (seed ${SEED}): ${counted(c)} counted by cause`, c)
    }),
    120_000,
  )
})

