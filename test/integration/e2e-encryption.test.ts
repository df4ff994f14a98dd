/**
 * End-to-end encrypted meetings, on a real nats-server with real sockets and
 * a real packet capture: the web tier hands out no key and holds none, the
 * participants agree one over the meeting's events (X25519, through their
 * MMR), every packet on the wire is SRTP that nothing on the server side can
 * open, a leaver cannot read the next epoch, those who stay lose nothing —
 * and the MMR passes on only what a participant of the meeting sent, and
 * not too much of it.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { randomBytes } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { Deferred, Effect, Exit, Option, Schedule, Scope, Stream } from "effect"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import * as E2e from "../../src/protocol/e2e.js"
import { Join, Signal } from "../../src/protocol/mmr.js"
import * as Rtp from "../../src/protocol/rtp.js"
import * as Srtp from "../../src/protocol/srtp.js"
import { ask } from "../../src/runtime/Ask.js"
import { ControlBus } from "../../src/runtime/ControlBus.js"
import * as Connector from "../../src/transports/connector.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as Pcap from "../support/pcap.js"
import * as MarkerMedia from "../support/marker-media.js"
import * as TestTopology from "../support/topology.js"

const MARKER = Buffer.from("MEETZONE-E2E-PLAINTEXT-MARKER-0123456789-")
const PACKETS = 150

const markerPackets = MarkerMedia.markerPackets(MARKER, 2, PACKETS)

const until = <A>(what: string, probe: Effect.Effect<A | undefined>) =>
  Effect.flatMap(probe, (a) => (a === undefined ? Effect.fail(`not yet: ${what}`) : Effect.succeed(a))).pipe(
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(200)))),
  )

layer(serverWithClient, { excludeTestServices: true, timeout: "90 seconds" })("end-to-end encrypted meetings", (it) => {
  it.scoped(
    "the web tier gives and holds no key; the participants agree one; the wire carries SRTP nothing on NATS opens; the leaver cannot read the next epoch and nobody who stays loses a packet",
    () =>
      Effect.gen(function* () {
        const nats = yield* TestNats
        const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "e2e" }), [nats.url])
        const dir = mkdtempSync(joinPath(tmpdir(), "meetzone-e2e-capture-"))
        const file = joinPath(dir, "meeting.pcap")
        const captureScope = yield* Scope.make()
        yield* Pcap.capture(file).pipe(Scope.extend(captureScope))
        const bus = yield* ControlBus
        const seen: Array<{ subject: string; data: Buffer }> = []
        yield* bus.subscribe(">", {}, (m) => void seen.push({ subject: m.subject, data: Buffer.from(m.data) }))

        const http = yield* Lookup.dispatcher(tls, Option.none())
        const created = yield* Lookup.createMeeting(http, new URL(web), { endToEnd: true, timeoutMs: 5000 })
        expect(created.endToEnd).toBe(true)
        const meeting = created.id
        const join = (name: string, media: Client.MediaOptions) =>
          Client.join({ web, meeting, name, tls, proxy: "none", media: { transports: ["udp"], keyActivationMs: 300, ...media } })
        const bob = yield* join("Bob", { kinds: ["audio"], synthetic: false })
        expect(bob.info.media).toEqual({ profile: "AEAD_AES_256_GCM", endToEnd: true })
        const refused = yield* Effect.either(Lookup.mediaKeys(http, new URL(web), meeting, bob.info.joinToken, 5000))
        expect(refused._tag === "Left" && refused.left.detail).toMatch(/end-to-end/)
        const carolScope = yield* Scope.make()
        const carol = yield* join("Carol", { kinds: ["audio"], synthetic: false }).pipe(Scope.extend(carolScope))
        const heard = yield* bob.media!.receive("audio").pipe(Stream.take(PACKETS), Stream.runCollect, Effect.timeout("30 seconds"), Effect.fork)
        // Ada's marker packets start once she sends under a key: the count below is then exact.
        const adaJoined = yield* Deferred.make<Client.JoinSession>()
        const gated = (ssrc: number) =>
          Stream.fromEffect(
            Effect.flatMap(Deferred.await(adaJoined), (s) => until("Ada holds a key", Effect.sync(() => ((s.encryption?.sendingEpoch() ?? 0) > 0 ? true : undefined)))),
          ).pipe(Stream.orDie, Stream.flatMap(() => markerPackets(ssrc)))
        const ada = yield* join("Ada", { kinds: ["audio"], sources: { audio: gated } })
        yield* Deferred.succeed(adaJoined, ada)
        const everyone = [ada, bob, carol]

        // All three agree: the same security code, and everyone holds the epoch Ada sends under.
        yield* until(
          "the same key everywhere",
          Effect.sync(() => {
            const epoch = ada.encryption!.sendingEpoch()
            const codes = new Set(everyone.map((s) => s.encryption!.endToEnd!.securityCode()))
            return epoch > 0 && codes.size === 1 && everyone.every((s) => s.encryption!.epochs().includes(epoch)) ? true : undefined
          }),
        )
        const firstEpoch = ada.encryption!.sendingEpoch()

        // A second in, Carol leaves: whoever leads now makes a new epoch for Ada and Bob only.
        yield* Effect.sleep("1 second")
        yield* Scope.close(carolScope, Exit.void)
        yield* until("a new epoch at Ada", Effect.sync(() => (ada.encryption!.sendingEpoch() !== firstEpoch ? true : undefined)))
        const secondEpoch = ada.encryption!.sendingEpoch()
        const packets = [...(yield* Effect.flatten(heard.await))]
        yield* Scope.close(captureScope, Exit.void)

        expect(packets.length).toBe(PACKETS)
        packets.forEach((p, i) => {
          expect(Rtp.sequenceNumber(p)).toBe((65_500 + i) & 0xffff)
          expect(Buffer.from(p).subarray(Rtp.HEADER_SIZE).equals(Buffer.concat([MARKER, MARKER]))).toBe(true)
        })
        const adaReport = (yield* ada.finalReport).media!.find((m) => m.kind === "audio")!.encryption!
        const bobReport = (yield* bob.finalReport).media!.find((m) => m.kind === "audio")!.encryption!
        expect(bobReport).toMatchObject({ decrypted: PACKETS, authFailed: 0, replayed: 0, unknownEpoch: 0, malformed: 0 })
        expect(adaReport.notSent).toBe(0)
        expect(adaReport.endToEnd!.securityCode).toBe(bobReport.endToEnd!.securityCode)
        expect(adaReport.endToEnd!.refused + bobReport.endToEnd!.refused).toBe(0)
        expect(adaReport.endToEnd!.made + bobReport.endToEnd!.made).toBeGreaterThanOrEqual(1)

        // The wire: every packet of Ada's is SRTP, under the two epochs, and the marker is nowhere.
        const fromAda = Pcap.udpDatagrams(file).filter((d) => d.dst === ada.joined.media!.port && Rtp.isRtp(d.payload) && Rtp.ssrc(d.payload) === ada.ssrcs.audio)
        expect(fromAda.length).toBe(PACKETS)
        expect(readFileSync(file).includes(MARKER)).toBe(false)
        expect(new Set(fromAda.map((d) => Srtp.mkiOf(d.payload)))).toEqual(new Set([firstEpoch, secondEpoch]))

        // Carol, gone, holds no key to the second epoch and opens none of its packets.
        const later = fromAda.filter((d) => Srtp.mkiOf(d.payload) === secondEpoch)
        expect(later.length).toBeGreaterThan(10)
        expect(carol.encryption!.epochs()).not.toContain(secondEpoch)
        expect(later.every((d) => carol.encryption!.unprotect("audio", d.payload) === undefined)).toBe(true)

        // Nothing server-side can: the web tier keeps no record of the meeting's keys, and no 32-byte value
        // that crossed NATS (base64 or hex, in any message: key messages, rosters, KV) opens a packet.
        expect(seen.filter((m) => m.subject === `$KV.e2e_media_keys.${meeting}`)).toEqual([])
        const keyMessages = seen.filter((m) => m.subject === `e2e.meeting.${meeting}.roster` && m.data.includes('"e2e-keys"'))
        expect(keyMessages.length).toBeGreaterThanOrEqual(2)
        const candidates = new Set<string>()
        for (const m of seen) {
          const text = m.data.toString("latin1")
          for (const b64 of text.match(/[A-Za-z0-9+/]{43}=/g) ?? []) candidates.add(Buffer.from(b64, "base64").toString("hex"))
          for (const hex of text.match(/[0-9a-f]{64}/g) ?? []) candidates.add(hex)
        }
        expect(candidates.size).toBeGreaterThanOrEqual(3) // the three key shares at least: the scan sees real values
        const samples = [fromAda[0]!, later[0]!]
        const opened = [...candidates].filter((hex) =>
          samples.some((d) => Srtp.unprotect(Srtp.deriveSessionKeys(Buffer.from(hex, "hex"), ada.ssrcs.audio), d.payload.subarray(0, d.payload.length - Srtp.MKI_SIZE), 0) !== undefined),
        )
        expect(opened).toEqual([])
      }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped(
    "the MMR passes on signals only from a participant it hosts, with its session, and not a flood; a key under a share not the leader's is refused by the others",
    () =>
      Effect.gen(function* () {
        const nats = yield* TestNats
        const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "e2eh" }), [nats.url])
        const http = yield* Lookup.dispatcher(tls, Option.none())
        const meeting = (yield* Lookup.createMeeting(http, new URL(web), { endToEnd: true, timeoutMs: 5000 })).id
        const bob = yield* Client.join({ web, meeting, name: "Bob", tls, proxy: "none", media: { kinds: ["audio"], transports: ["udp"], synthetic: false } })
        const subject = `e2eh.mmr.${bob.mmr}`
        const mallory = yield* Lookup.joinInfo(http, new URL(web), meeting, { name: "Mallory", timeoutMs: 5000 })
        const session = randomBytes(24).toString("base64url")
        const identity = E2e.newIdentity()
        const fake = E2e.newIdentity()
        const keys = (epoch: number, share: string): E2e.E2eSignal => ({ type: "e2e-keys", epoch, keyShare: share, wrapped: { [bob.info.participant.id]: "AAAA" }, activateInMs: 0 })
        const signal = (s: E2e.E2eSignal, secret = session) => ask(subject, new Signal({ meeting, token: mallory.joinToken, session: secret, signal: s }), { timeout: "2 seconds" }).pipe(Effect.either)

        // Admitted by the web tier but not in the meeting on this MMR: nothing is passed on.
        const early = yield* signal(keys(300, identity.keyShare))
        expect(early._tag === "Left" && early.left._tag === "SignalRefused" && early.left.reason).toBe("not-here")
        yield* ask(subject, new Join({ token: mallory.joinToken, session, keyShare: identity.keyShare }), { timeout: "2 seconds" })
        // Another session secret than the one her Join bound: a copied token sends nothing.
        const copied = yield* signal(keys(300, identity.keyShare), randomBytes(24).toString("base64url"))
        expect(copied._tag === "Left" && copied.left._tag).toBe("SessionTaken")
        // A key under a share that is not hers in the roster, or from someone who does not lead: Bob refuses it.
        const forged = yield* signal(keys(301, fake.keyShare))
        expect(forged._tag).toBe("Right")
        yield* until("Bob refused it", Effect.sync(() => (bob.encryption!.endToEnd!.counters.refused >= 1 ? true : undefined)))
        expect(bob.encryption!.epochs()).not.toContain(301)
        // A flood: 40 at once (one spent above on the forged key), then 20 a second; the rest refused — however
        // long the flood took on this machine, nothing beyond that passed.
        const started = performance.now()
        const flood = yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), () => signal({ type: "e2e-key-request", epoch: 0 }), { concurrency: 20 })
        const seconds = (performance.now() - started) / 1000
        const tooMany = flood.filter((r) => r._tag === "Left" && r.left._tag === "SignalRefused" && r.left.reason === "too-many").length
        const passed = flood.filter((r) => r._tag === "Right").length
        expect(passed + tooMany).toBe(flood.length)
        expect(passed).toBeGreaterThanOrEqual(39)
        expect(passed).toBeLessThanOrEqual(39 + Math.ceil(20 * seconds) + 1)
        expect(tooMany).toBeGreaterThan(0)
        // Bob is unharmed: he still holds a key and sends under it.
        expect(bob.encryption!.sendingEpoch()).toBeGreaterThan(0)
      }).pipe(Effect.provide(Connector.nats)),
  )
})
