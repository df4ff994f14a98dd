/**
 * SRTP with AEAD AES-GCM (RFC 7714): the RTP header stays clear and is
 * authenticated, the payload is encrypted, a 16-byte tag follows it, and the
 * key's id (the MKI of RFC 3711, 4 bytes: the meeting's key epoch) comes
 * last, so that receivers pick the right key without trying each.
 *
 *   | RTP header (AAD) | payload (encrypted) | tag (16) | MKI (4) |
 *
 * IV (RFC 7714 §8.1): (00 00 || SSRC || ROC || SEQ) XOR the 12-byte session
 * salt. Each sender's session key and salt come from the epoch's meeting key
 * by HKDF-SHA256 (RFC 5869) with the SSRC in `info`: one key per sender and
 * kind (SSRCs are per kind), no two senders share an IV space. Receivers
 * estimate the rollover counter (RFC 3711 §3.3.1) and keep a 64-packet replay
 * window per stream (§3.3.2), moved only by packets that authenticate.
 *
 * Bytes and Node's crypto only; the browser's copy is web/client/srtp.js.
 *
 * @since 0.2.0
 */
import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto"
import { HEADER_SIZE } from "./rtp.js"

/** @category constants */
export const TAG_SIZE = 16
/** @category constants */
export const MKI_SIZE = 4
/** Bytes SRTP adds to an RTP packet. @category constants */
export const OVERHEAD = TAG_SIZE + MKI_SIZE
/** The profile's name, as SDP and DTLS-SRTP call it. @category constants */
export const PROFILE = "AEAD_AES_256_GCM"

/** A sender's session key (16 or 32 bytes: AES-128 or AES-256) and 12-byte salt. @category models */
export interface SessionKeys {
  readonly key: Uint8Array
  readonly salt: Uint8Array
}

/**
 * The session key and salt of one sender (`ssrc`) in one key epoch, from the
 * epoch's 32-byte meeting key.
 *
 * @category keys
 */
export const deriveSessionKeys = (meetingKey: Uint8Array, ssrc: number): SessionKeys => {
  const info = Buffer.alloc(17)
  info.write("meetzone srtp", 0, "ascii")
  info.writeUInt32BE(ssrc >>> 0, 13)
  const okm = Buffer.from(hkdfSync("sha256", meetingKey, Buffer.alloc(0), info, 44))
  return { key: okm.subarray(0, 32), salt: okm.subarray(32, 44) }
}

/** The RTP header's length (CSRCs and extension included), or undefined when it does not fit. @category parsing */
export const headerLength = (packet: Uint8Array): number | undefined => {
  if (packet.length < HEADER_SIZE) return undefined
  let length = HEADER_SIZE + 4 * (packet[0]! & 0x0f)
  if ((packet[0]! & 0x10) !== 0) {
    if (packet.length < length + 4) return undefined
    length += 4 + 4 * ((packet[length + 2]! << 8) | packet[length + 3]!)
  }
  return length <= packet.length ? length : undefined
}

/** The 12-byte IV of RFC 7714 §8.1. @category keys */
export const iv = (salt: Uint8Array, ssrc: number, roc: number, sequence: number): Buffer => {
  const out = Buffer.alloc(12)
  out.writeUInt32BE(ssrc >>> 0, 2)
  out.writeUInt32BE(roc >>> 0, 6)
  out.writeUInt16BE(sequence & 0xffff, 10)
  for (let i = 0; i < 12; i++) out[i]! ^= salt[i]!
  return out
}

const cipherName = (key: Uint8Array) => (key.length === 16 ? "aes-128-gcm" : "aes-256-gcm")

/**
 * Protects one RTP packet: header | encrypted payload | tag, then the MKI
 * when `mki` is given. `roc`: the sender's rollover counter for this packet.
 *
 * @category packets
 */
export const protect = (keys: SessionKeys, packet: Uint8Array, roc: number, mki?: number): Buffer => {
  const headerEnd = headerLength(packet)
  if (headerEnd === undefined) throw new RangeError("not an RTP packet")
  const ssrc = ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) | packet[11]!) >>> 0
  const sequence = (packet[2]! << 8) | packet[3]!
  const cipher = createCipheriv(cipherName(keys.key), keys.key, iv(keys.salt, ssrc, roc, sequence))
  const header = packet.subarray(0, headerEnd)
  cipher.setAAD(header)
  const body = cipher.update(packet.subarray(headerEnd))
  cipher.final()
  const out = Buffer.allocUnsafe(packet.length + TAG_SIZE + (mki === undefined ? 0 : MKI_SIZE))
  out.set(header, 0)
  out.set(body, headerEnd)
  out.set(cipher.getAuthTag(), headerEnd + body.length)
  if (mki !== undefined) out.writeUInt32BE(mki >>> 0, out.length - MKI_SIZE)
  return out
}

/**
 * The RTP packet inside `srtp` (its MKI already taken off), or undefined
 * when it does not authenticate.
 *
 * @category packets
 */
export const unprotect = (keys: SessionKeys, srtp: Uint8Array, roc: number): Buffer | undefined => {
  const headerEnd = headerLength(srtp)
  if (headerEnd === undefined || srtp.length < headerEnd + TAG_SIZE) return undefined
  const ssrc = ((srtp[8]! << 24) | (srtp[9]! << 16) | (srtp[10]! << 8) | srtp[11]!) >>> 0
  const sequence = (srtp[2]! << 8) | srtp[3]!
  const decipher = createDecipheriv(cipherName(keys.key), keys.key, iv(keys.salt, ssrc, roc, sequence))
  decipher.setAAD(srtp.subarray(0, headerEnd))
  decipher.setAuthTag(srtp.subarray(srtp.length - TAG_SIZE))
  const body = decipher.update(srtp.subarray(headerEnd, srtp.length - TAG_SIZE))
  try {
    decipher.final()
  } catch {
    return undefined
  }
  const out = Buffer.allocUnsafe(headerEnd + body.length)
  out.set(srtp.subarray(0, headerEnd), 0)
  out.set(body, headerEnd)
  return out
}

/** The MKI (key epoch) a packet carries, read from its end. @category parsing */
export const mkiOf = (srtp: Uint8Array): number | undefined =>
  srtp.length < HEADER_SIZE + OVERHEAD
    ? undefined
    : ((srtp[srtp.length - 4]! << 24) | (srtp[srtp.length - 3]! << 16) | (srtp[srtp.length - 2]! << 8) | srtp[srtp.length - 1]!) >>> 0

/**
 * A sender's packet index: the rollover counter goes up when the sequence
 * number wraps (RFC 3711 §3.3.1).
 *
 * @category streams
 */
export class SenderIndex {
  private roc = 0
  private last = -1

  /** The ROC for a packet with this sequence number (sent in order). */
  next(sequence: number): number {
    if (this.last >= 0 && sequence < this.last && this.last - sequence > 0x8000) this.roc = (this.roc + 1) >>> 0
    this.last = sequence
    return this.roc
  }
}

/** Why a packet was refused. @category models */
export type Refusal = "replayed" | "too-old"

/**
 * One received stream's rollover counter and 64-packet replay window: `estimate`
 * guesses a packet's ROC; `check` says whether its index was seen (or is too
 * old); `accept` records it once it authenticated.
 *
 * @category streams
 */
export class ReplayWindow {
  private roc = 0
  private highest = -1
  /** Bit i: highest − i was received. */
  private seen = 0n

  /** Nothing accepted yet: the sender's ROC is not known (it may have wrapped before we listened). */
  get fresh(): boolean {
    return this.highest < 0
  }

  /** The ROC of a packet with this sequence number (RFC 3711 §3.3.1). */
  estimate(sequence: number): number {
    if (this.highest < 0) return this.roc
    const s = this.highest & 0xffff
    if (s < 0x8000) return sequence - s > 0x8000 ? (this.roc - 1) >>> 0 : this.roc
    return s - 0x8000 > sequence ? (this.roc + 1) >>> 0 : this.roc
  }

  /** Undefined when the index is new and within the window. */
  check(roc: number, sequence: number): Refusal | undefined {
    if (this.highest < 0) return undefined
    const index = roc * 0x10000 + sequence
    const top = this.roc * 0x10000 + (this.highest & 0xffff)
    if (index > top) return undefined
    const behind = top - index
    if (behind >= 64) return "too-old"
    return ((this.seen >> BigInt(behind)) & 1n) === 1n ? "replayed" : undefined
  }

  accept(roc: number, sequence: number): void {
    const index = roc * 0x10000 + sequence
    if (this.highest < 0) {
      this.roc = roc
      this.highest = sequence
      this.seen = 1n
      return
    }
    const top = this.roc * 0x10000 + (this.highest & 0xffff)
    if (index > top) {
      const shift = index - top
      this.seen = shift >= 64 ? 1n : ((this.seen << BigInt(shift)) | 1n) & 0xffffffffffffffffn
      this.roc = roc
      this.highest = sequence
    } else {
      this.seen |= 1n << BigInt(top - index)
    }
  }
}
