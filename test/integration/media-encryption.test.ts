/**
 * Media encryption end to end, on a real nats-server with real sockets and a
 * real packet capture (tcpdump on loopback): what crosses the wire is SRTP
 * (RFC 7714) with no plaintext in it, nothing the MMR is ever given holds a
 * key, and a participant who leaves cannot decrypt what is sent after —
 * while those who stay lose no packet at the switch to the new epoch.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect, Exit, Option, Schedule, Scope, Stream } from "effect"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import * as MediaCrypto from "../../src/actors/client/media-crypto.js"
import * as Keys from "../../src/protocol/media-keys.js"
import * as Rtp from "../../src/protocol/rtp.js"
import * as Srtp from "../../src/protocol/srtp.js"
import { ControlBus } from "../../src/runtime/ControlBus.js"
import * as Connector from "../../src/transports/connector.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as Pcap from "../support/pcap.js"
import * as MarkerMedia from "../support/marker-media.js"
import * as TestTopology from "../support/topology.js"

/** What the sender puts in every payload: it must never appear on the wire. */
const MARKER = Buffer.from("MEETZONE-PLAINTEXT-MARKER-0123456789-")
const PACKETS = 150

const markerPackets = MarkerMedia.markerPackets(MARKER, 3, PACKETS)

layer(serverWithClient, { excludeTestServices: true, timeout: "90 seconds" })("media encryption", (it) => {
  it.scoped(
    "on the wire every media packet is SRTP and no payload byte is plain; nothing the MMR is given holds a key; the leaver cannot decrypt the next epoch and those who stay lose no packet",
    () =>
      Effect.gen(function* () {
        const nats = yield* TestNats
        const { web, tls } = yield* TestTopology.start(
          TestTopology.twoZones({ prefix: "enc", media: { rekeyActivation: "300 millis" } }),
          [nats.url],
        )
        const dir = mkdtempSync(joinPath(tmpdir(), "meetzone-capture-"))
        const file = joinPath(dir, "meeting.pcap")
        const captureScope = yield* Scope.make()
        yield* Pcap.capture(file).pipe(Scope.extend(captureScope))

        // Everything that crosses NATS while the meeting runs (what MMRs, tunnels and clients are given).
        const bus = yield* ControlBus
        const seen: Array<{ subject: string; data: Buffer; stream: string | undefined }> = []
        yield* bus.subscribe(">", {}, (m) => void seen.push({ subject: m.subject, data: Buffer.from(m.data), stream: m.header("Nats-Stream") }))

        const http = yield* Lookup.dispatcher(tls, Option.none())
        const meeting = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
        const join = (name: string, media: Client.MediaOptions) =>
          Client.join({ web, meeting, name, tls, proxy: "none", media: { transports: ["udp"], ...media } })
        const bob = yield* join("Bob", { kinds: ["audio"], synthetic: false })
        const carolScope = yield* Scope.make()
        const carol = yield* join("Carol", { kinds: ["audio"], synthetic: false }).pipe(Scope.extend(carolScope))
        const heard = yield* bob.media!.receive("audio").pipe(Stream.take(PACKETS), Stream.runCollect, Effect.timeout("20 seconds"), Effect.fork)
        const ada = yield* join("Ada", { kinds: ["audio"], sources: { audio: markerPackets } })
        expect(ada.encryption?.sendingEpoch()).toBe(1)

        // A second in, Carol leaves: the web tier makes epoch 2 for Ada and Bob only.
        yield* Effect.sleep("1 second")
        yield* Scope.close(carolScope, Exit.void)
        yield* Effect.suspend(() => (ada.encryption!.sendingEpoch() >= 2 ? Effect.void : Effect.fail("not yet"))).pipe(
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(100)))),
        )
        const packets = [...(yield* Effect.flatten(heard.await))]
        yield* Scope.close(captureScope, Exit.void)

        // Bob heard every packet Ada sent, in order, each exactly as she made it: none lost at the switch.
        expect(packets.length).toBe(PACKETS)
        packets.forEach((p, i) => {
          expect(Rtp.sequenceNumber(p)).toBe((65_500 + i) & 0xffff)
          expect(Buffer.from(p).subarray(Rtp.HEADER_SIZE).equals(Buffer.concat([MARKER, MARKER, MARKER]))).toBe(true)
        })
        const bobAudio = (yield* bob.finalReport).media!.find((m) => m.kind === "audio")!
        expect(bobAudio.encryption).toMatchObject({ authFailed: 0, replayed: 0, unknownEpoch: 0, malformed: 0, decrypted: PACKETS })

        // The capture: Ada's packets to her MMR are all SRTP, under epochs 1 then 2, and the marker is nowhere.
        const port = ada.joined.media!.port
        const fromAda = Pcap.udpDatagrams(file).filter((d) => d.dst === port && Rtp.isRtp(d.payload) && Rtp.ssrc(d.payload) === ada.ssrcs.audio)
        expect(fromAda.length).toBe(PACKETS)
        const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
        expect(readFileSync(file).includes(MARKER)).toBe(false)
        for (const d of fromAda) expect(d.payload.length).toBe(Rtp.HEADER_SIZE + MARKER.length * 3 + Srtp.OVERHEAD)
        const epochs = fromAda.map((d) => Srtp.mkiOf(d.payload)!)
        expect(new Set(epochs)).toEqual(new Set([1, 2]))
        expect(epochs).toEqual([...epochs].sort((a, b) => a - b)) // one switch, never back

        // Bob's keys (asked again of the web tier) open every captured packet; Carol's open none of epoch 2.
        const bobKeys = yield* Lookup.mediaKeys(http, new URL(web), meeting, bob.info.joinToken, 5000)
        const bobRing = MediaCrypto.make(meeting, bob.info.participant.id, bobKeys)
        expect(fromAda.every((d) => bobRing.unprotect("audio", d.payload) !== undefined)).toBe(true)
        const carolRing = MediaCrypto.make(meeting, carol.info.participant.id, carol.info.media as Keys.MediaKeys)
        const keyEvents = seen
          .filter((m) => m.subject.endsWith(".roster") && m.data.includes("media-keys"))
          .map((m) => JSON.parse(m.data.toString()) as Keys.MediaKeyEvent)
        expect(keyEvents.map((e) => e.epoch)).toEqual([2])
        expect(Object.keys(keyEvents[0]!.wrapped).sort()).toEqual([ada.info.participant.id, bob.info.participant.id].sort())
        expect(carolRing.onEvent(keyEvents[0]!)).toBe(false)
        const later = fromAda.filter((d) => Srtp.mkiOf(d.payload) === 2)
        expect(later.length).toBeGreaterThan(10)
        expect(later.every((d) => carolRing.unprotect("audio", d.payload) === undefined)).toBe(true)
        expect(carolRing.counters.audio.unknownEpoch).toBe(later.length)
        const carolAgain = yield* Effect.either(Lookup.mediaKeys(http, new URL(web), meeting, carol.info.joinToken, 5000))
        expect(carolAgain._tag === "Left" && carolAgain.left.detail).toMatch(/left the meeting/)

        // No key in anything that crossed NATS, outside the web tier's own bucket (its writes, and the answers
        // to its reads): not to the MMR, not to anyone.
        const secrets = bobKeys.epochs.flatMap((e) => {
          const raw = Buffer.from(e.key, "base64")
          return [raw, Buffer.from(e.key), Buffer.from(raw.toString("hex"))]
        })
        const outsideBucket = seen.filter((m) => !m.subject.includes("enc_media_keys") && m.stream !== "KV_enc_media_keys")
        expect(outsideBucket.some((m) => m.subject.startsWith("enc.mmr."))).toBe(true)
        expect(outsideBucket.filter((m) => secrets.some((s) => m.data.includes(s))).map((m) => m.subject)).toEqual([])
      }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("re-keys on a period (configurable: 1 s here) while two talk: every epoch is taken without losing a packet", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(
        TestTopology.twoZones({ prefix: "enc2", media: { rekeyEvery: "1 second", rekeyActivation: "200 millis" } }),
        [nats.url],
      )
      const http = yield* Lookup.dispatcher(tls, Option.none())
      const meeting = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
      const join = (name: string, media: Client.MediaOptions) => Client.join({ web, meeting, name, tls, proxy: "none", media: { transports: ["udp"], ...media } })
      const bob = yield* join("Bob", { kinds: ["audio"], synthetic: false })
      const heard = yield* bob.media!.receive("audio").pipe(Stream.take(PACKETS), Stream.runCollect, Effect.timeout("20 seconds"), Effect.fork)
      const ada = yield* join("Ada", { kinds: ["audio"], sources: { audio: markerPackets } })
      const packets = [...(yield* Effect.flatten(heard.await))]
      expect(packets.length).toBe(PACKETS)
      const adaAudio = (yield* ada.finalReport).media!.find((m) => m.kind === "audio")!
      const bobAudio = (yield* bob.finalReport).media!.find((m) => m.kind === "audio")!
      // Three seconds of audio at a 1 s period: at least two new epochs, each taken by both.
      expect(adaAudio.encryption!.sendingEpoch).toBeGreaterThanOrEqual(3)
      expect(bobAudio.encryption!.epochs).toContain(adaAudio.encryption!.sendingEpoch)
      expect(bobAudio.encryption).toMatchObject({ decrypted: PACKETS, authFailed: 0, replayed: 0, unknownEpoch: 0 })
      expect(bobAudio.loss).toBe(0)
    }).pipe(Effect.provide(Connector.nats)),
  )
})
