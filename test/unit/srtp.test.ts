/**
 * SRTP AEAD (RFC 7714): the RFC's own test vectors, and what a receiver must
 * refuse — tampered bytes, replays, packets too old for the window.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import * as Srtp from "../../src/protocol/srtp.js"
import * as MediaCrypto from "../../src/actors/client/media-crypto.js"
import * as MediaKeys from "../../src/protocol/media-keys.js"
import * as Rtp from "../../src/protocol/rtp.js"

const golden = JSON.parse(readFileSync(new URL("../golden/rfc7714-vectors.json", import.meta.url), "utf8")) as {
  salt: string
  iv: string
  rtp: string
  vectors: ReadonlyArray<{ profile: string; key: string; srtp: string }>
}
const hex = (s: string) => Buffer.from(s, "hex")

describe("SRTP AEAD AES-GCM (RFC 7714 §16 vectors)", () => {
  it("makes the RFC's IV from salt, SSRC, ROC and sequence number", () => {
    expect(Srtp.iv(hex(golden.salt), 0x5501a0b2, 0, 0xf17b).toString("hex")).toBe(golden.iv)
  })

  for (const v of golden.vectors) {
    it(`${v.profile}: protects the RFC's packet to the RFC's bytes, and back`, () => {
      const keys = { key: hex(v.key), salt: hex(golden.salt) }
      expect(Srtp.protect(keys, hex(golden.rtp), 0).toString("hex")).toBe(v.srtp)
      expect(Srtp.unprotect(keys, hex(v.srtp), 0)?.toString("hex")).toBe(golden.rtp)
    })
  }

  it("refuses a packet with any one bit flipped (header, payload or tag)", () => {
    const v = golden.vectors[1]!
    const keys = { key: hex(v.key), salt: hex(golden.salt) }
    const srtp = hex(v.srtp)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: srtp.length * 8 - 1 }), (bit) => {
        const tampered = Buffer.from(srtp)
        tampered[bit >> 3]! ^= 1 << (bit & 7)
        return Srtp.unprotect(keys, tampered, 0) === undefined
      }),
      { numRuns: 300 },
    )
  })

  it("carries the key epoch as a 4-byte MKI after the tag", () => {
    const keys = Srtp.deriveSessionKeys(MediaKeys.newKey(), 0x5501a0b2)
    const srtp = Srtp.protect(keys, hex(golden.rtp), 0, 7)
    expect(srtp.length).toBe(hex(golden.rtp).length + Srtp.OVERHEAD)
    expect(Srtp.mkiOf(srtp)).toBe(7)
    expect(Srtp.unprotect(keys, srtp.subarray(0, srtp.length - Srtp.MKI_SIZE), 0)?.toString("hex")).toBe(golden.rtp)
  })

  it("derives a different key and salt per sender and per epoch key", () => {
    const epoch = MediaKeys.newKey()
    const a = Srtp.deriveSessionKeys(epoch, 1)
    const b = Srtp.deriveSessionKeys(epoch, 2)
    const c = Srtp.deriveSessionKeys(MediaKeys.newKey(), 1)
    expect(Buffer.from(a.key).equals(Buffer.from(b.key))).toBe(false)
    expect(Buffer.from(a.salt).equals(Buffer.from(b.salt))).toBe(false)
    expect(Buffer.from(a.key).equals(Buffer.from(c.key))).toBe(false)
    expect(Srtp.deriveSessionKeys(epoch, 1)).toEqual(a)
  })
})

describe("the replay window (RFC 3711 §3.3.2)", () => {
  it("accepts each index once, refuses repeats and what fell out of the 64-packet window", () => {
    const w = new Srtp.ReplayWindow()
    w.accept(0, 100)
    expect(w.check(0, 100)).toBe("replayed")
    expect(w.check(0, 99)).toBeUndefined() // late but new
    w.accept(0, 99)
    expect(w.check(0, 99)).toBe("replayed")
    w.accept(0, 200)
    expect(w.check(0, 136)).toBe("too-old")
    expect(w.check(0, 137)).toBeUndefined()
    expect(w.check(0, 201)).toBeUndefined()
  })

  it("follows the sequence number across its wrap: the receiver's ROC estimate matches the sender's", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 800 }), (first, gaps) => {
        const sender = new Srtp.SenderIndex()
        const receiver = new Srtp.ReplayWindow()
        let seq = first
        for (const gap of gaps) {
          const roc = sender.next(seq)
          if (receiver.estimate(seq) !== roc) return false
          if (receiver.check(roc, seq) !== undefined) return false
          receiver.accept(roc, seq)
          seq = (seq + gap) & 0xffff
        }
        return true
      }),
      { numRuns: 200 },
    )
  })
})

describe("wrapped epoch keys", () => {
  it("unwrap only for the participant, meeting and epoch they were wrapped for", () => {
    const secret = MediaKeys.newKey()
    const key = MediaKeys.newKey()
    const ada = MediaKeys.wrapKeyFor(secret, "1234567890", "ada")
    const bob = MediaKeys.wrapKeyFor(secret, "1234567890", "bob")
    const wrapped = MediaKeys.wrap(ada, "1234567890", 2, "ada", key)
    expect(MediaKeys.unwrap(ada, "1234567890", 2, "ada", wrapped)?.equals(key)).toBe(true)
    expect(MediaKeys.unwrap(bob, "1234567890", 2, "ada", wrapped)).toBeUndefined()
    expect(MediaKeys.unwrap(ada, "1234567890", 3, "ada", wrapped)).toBeUndefined()
    expect(MediaKeys.unwrap(ada, "1234567890", 2, "bob", wrapped)).toBeUndefined()
    expect(MediaKeys.unwrap(ada, "1234567890", 2, "ada", "garbage")).toBeUndefined()
  })
})

describe("a participant who joins after a sender's sequence numbers wrapped", () => {
  it("finds the sender's rollover counter from the stream's first packet and opens everything after it", () => {
    const keys = { profile: "AEAD_AES_256_GCM" as const, epochs: [{ epoch: 1, key: MediaKeys.newKey().toString("base64") }] }
    const sender = MediaCrypto.make("1234567890", "ada", keys)
    const sealed: Array<Buffer> = []
    // Three wraps before the late joiner hears anything (its ROC is 3 by then).
    for (let i = 0; i < 3 * 65_536 + 40; i++) {
      const p = Buffer.alloc(40)
      Rtp.writeHeader(p, { payloadType: 111, marker: false, sequence: (65_500 + i) & 0xffff, timestamp: i * 960, ssrc: 7 })
      const s = sender.protect("audio", p)!
      if (i >= 3 * 65_536) sealed.push(s)
    }
    const late = MediaCrypto.make("1234567890", "bob", keys)
    expect(sealed.every((p) => late.unprotect("audio", p) !== undefined)).toBe(true)
    expect(late.counters.audio).toMatchObject({ decrypted: 40, authFailed: 0 })
  })
})
