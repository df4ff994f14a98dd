/**
 * What a client's media session does with SRTP that is not what a sender of
 * the meeting made, over real UDP sockets: an MMR in the middle (here a
 * hostile one) forwards each genuine packet, and before and after it a
 * tampered copy, a replay, the packet under an epoch nobody was given, a
 * packet forged under another meeting's key, and junk. Only the genuine
 * packets reach the listener, each exactly as sent; the rest is dropped and
 * counted by why in the report.
 */
import { createSocket } from "node:dgram"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as MediaCrypto from "../../src/actors/client/media-crypto.js"
import * as MediaSession from "../../src/actors/client/media-session.js"
import * as Keys from "../../src/protocol/media-keys.js"
import * as Rtp from "../../src/protocol/rtp.js"
import * as Srtp from "../../src/protocol/srtp.js"
import * as Stun from "../../src/protocol/stun.js"
import { openUdp } from "../../src/transports/media/client.js"

const MEETING = "1234567890"
const GENUINE = 20

describe("SRTP at the receiving client", () => {
  it.scopedLive("drops and counts tampered, replayed, wrong-epoch, forged and malformed packets; hands on only the genuine ones, unchanged", () =>
    Effect.gen(function* () {
      const keys: Keys.MediaKeys = { profile: "AEAD_AES_256_GCM", epochs: [{ epoch: 1, key: Keys.newKey().toString("base64") }] }
      // The hostile MMR: whatever Ada sends, Bob gets with the attacks around it.
      const mmr = createSocket("udp4")
      yield* Effect.addFinalizer(() => Effect.sync(() => mmr.close()))
      yield* Effect.async<void>((resume) => void mmr.bind(0, "127.0.0.1", () => resume(Effect.void)))
      const port = mmr.address().port
      const adaSocket = yield* Effect.promise(() => openUdp({ host: "127.0.0.1", port, dscp: 46 }))
      const bobSocket = yield* Effect.promise(() => openUdp({ host: "127.0.0.1", port, dscp: 46 }))
      const bobPort = Number(bobSocket.local.split(":")[1])
      const toBob = (packet: Uint8Array) => mmr.send(packet, bobPort, "127.0.0.1")
      const foreignKeys = Srtp.deriveSessionKeys(Keys.newKey(), 0) // another meeting's key
      let forged = false
      mmr.on("message", (m) => {
        if (Stun.decode(m) !== undefined || !Rtp.isRtp(m)) return
        const tampered = Buffer.from(m)
        tampered[Rtp.HEADER_SIZE + 3]! ^= 0x40
        toBob(tampered) // first: refused, and it moves no replay window
        toBob(m)
        toBob(m) // a replay
        const wrongEpoch = Buffer.from(m)
        wrongEpoch.writeUInt32BE(9, wrongEpoch.length - Srtp.MKI_SIZE)
        toBob(wrongEpoch)
        if (!forged) {
          forged = true
          // Under a key of no one in this meeting, with a sequence number Ada has not used yet.
          const plain = Buffer.alloc(60)
          Rtp.writeHeader(plain, { payloadType: 111, marker: false, sequence: (Rtp.sequenceNumber(m) + 1000) & 0xffff, timestamp: 0, ssrc: Rtp.ssrc(m) })
          toBob(Srtp.protect(foreignKeys, plain, 0, 1))
          toBob(Buffer.from([0x80, 0x6f, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])) // RTP-shaped, too short for SRTP
        }
      })
      const ada = yield* MediaSession.start([{ kind: "audio", socket: adaSocket, dscp: 46 }], {
        consentMs: 0,
        crypto: MediaCrypto.make(MEETING, "ada", keys),
      })
      const bobKeys = MediaCrypto.make(MEETING, "bob", keys)
      const bob = yield* MediaSession.start([{ kind: "audio", socket: bobSocket, dscp: 46 }], { consentMs: 0, crypto: bobKeys })
      const heard: Array<Buffer> = []
      bob.onReceive("audio", (p) => void heard.push(p))

      const sent: Array<Buffer> = []
      for (let i = 0; i < GENUINE; i++) {
        const packet = Buffer.alloc(Rtp.HEADER_SIZE + 148, i)
        Rtp.writeHeader(packet, { payloadType: 111, marker: i === 0, sequence: 65_530 + i, timestamp: i * 960, ssrc: 0x0a0b0c0d })
        sent.push(packet)
        expect(ada.send("audio", packet)).toBe(true)
        yield* Effect.sleep("5 millis")
      }
      yield* Effect.sleep("300 millis")

      expect(heard.map((p) => p.toString("hex"))).toEqual(sent.map((p) => p.toString("hex")))
      const report = bob.report(() => "Ada")[0]!
      expect(report.received).toBe(GENUINE)
      expect(report.encryption).toMatchObject({
        profile: "AEAD_AES_256_GCM",
        decrypted: GENUINE,
        authFailed: GENUINE + 1,
        replayed: GENUINE,
        unknownEpoch: GENUINE,
        malformed: 1,
      })
      // An epoch newer than any held: the session would ask the web tier for the keys again.
      expect(bobKeys.wanted()).toBe(9)
    }),
  )
})
