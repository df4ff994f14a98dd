// @ts-check
/**
 * SRTP AEAD AES-GCM (RFC 7714) in the browser with WebCrypto: the same packets
 * as src/protocol/srtp.ts — clear RTP header (authenticated), encrypted
 * payload, 16-byte tag, then the key epoch as a 4-byte MKI — and the same key
 * schedule: each sender's session key and salt by HKDF-SHA256 from the
 * epoch's meeting key with the SSRC in `info`; later epochs come wrapped with
 * this participant's own wrapping key (AES-256-GCM, bound to meeting, epoch
 * and participant).
 *
 * WebCrypto is asynchronous: each kind's packets go through one chain of
 * promises so that they leave, and are handed on, in order.
 */

export const TAG_SIZE = 16
export const MKI_SIZE = 4
export const OVERHEAD = TAG_SIZE + MKI_SIZE

/** @param {Uint8Array} bytes @returns {Uint8Array<ArrayBuffer>} */
const own = (bytes) => /** @type {Uint8Array<ArrayBuffer>} */ (new Uint8Array(bytes))

/** @param {string} b64 */
export const fromBase64 = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))

/** @param {Uint8Array} bytes */
export const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes))

/** @param {Uint8Array} packet @returns {number | undefined} */
export const headerLength = (packet) => {
  if (packet.length < 12) return undefined
  let length = 12 + 4 * (packet[0] & 0x0f)
  if ((packet[0] & 0x10) !== 0) {
    if (packet.length < length + 4) return undefined
    length += 4 + 4 * ((packet[length + 2] << 8) | packet[length + 3])
  }
  return length <= packet.length ? length : undefined
}

/** The 12-byte IV of RFC 7714 §8.1. @param {Uint8Array} salt @param {number} ssrc @param {number} roc @param {number} sequence */
export const iv = (salt, ssrc, roc, sequence) => {
  const out = new Uint8Array(12)
  const view = new DataView(out.buffer)
  view.setUint32(2, ssrc >>> 0)
  view.setUint32(6, roc >>> 0)
  view.setUint16(10, sequence & 0xffff)
  for (let i = 0; i < 12; i++) out[i] ^= salt[i]
  return out
}

/** @typedef {{ key: CryptoKey, salt: Uint8Array }} SessionKeys */

/** @param {Uint8Array} key raw AES key (16 or 32 bytes) @param {Uint8Array} salt @returns {Promise<SessionKeys>} */
export const sessionKeys = async (key, salt) => ({
  key: await crypto.subtle.importKey("raw", own(key), "AES-GCM", false, ["encrypt", "decrypt"]),
  salt,
})

/** A sender's session keys in one epoch (as deriveSessionKeys in src/protocol/srtp.ts). @param {Uint8Array} meetingKey @param {number} ssrc */
export const deriveSessionKeys = async (meetingKey, ssrc) => {
  const info = new Uint8Array(17)
  info.set(new TextEncoder().encode("meetzone srtp"), 0)
  new DataView(info.buffer).setUint32(13, ssrc >>> 0)
  const ikm = await crypto.subtle.importKey("raw", own(meetingKey), "HKDF", false, ["deriveBits"])
  const okm = new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info }, ikm, 44 * 8))
  return sessionKeys(okm.subarray(0, 32), okm.slice(32, 44))
}

/** @param {Uint8Array} p */
const ssrcOf = (p) => ((p[8] << 24) | (p[9] << 16) | (p[10] << 8) | p[11]) >>> 0
/** @param {Uint8Array} p */
const sequenceOf = (p) => (p[2] << 8) | p[3]

/**
 * Protects one RTP packet; the MKI is appended when `mki` is given.
 *
 * @param {SessionKeys} keys @param {Uint8Array} packet @param {number} roc @param {number} [mki]
 */
export const protect = async (keys, packet, roc, mki) => {
  const headerEnd = headerLength(packet)
  if (headerEnd === undefined) throw new RangeError("not an RTP packet")
  const header = packet.subarray(0, headerEnd)
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: iv(keys.salt, ssrcOf(packet), roc, sequenceOf(packet)), additionalData: own(header), tagLength: 128 },
      keys.key,
      own(packet.subarray(headerEnd)),
    ),
  )
  const out = new Uint8Array(headerEnd + sealed.length + (mki === undefined ? 0 : MKI_SIZE))
  out.set(header, 0)
  out.set(sealed, headerEnd)
  if (mki !== undefined) new DataView(out.buffer).setUint32(out.length - MKI_SIZE, mki >>> 0)
  return out
}

/**
 * The RTP packet inside `srtp` (MKI already taken off), or undefined when it does not authenticate.
 *
 * @param {SessionKeys} keys @param {Uint8Array} srtp @param {number} roc
 */
export const unprotect = async (keys, srtp, roc) => {
  const headerEnd = headerLength(srtp)
  if (headerEnd === undefined || srtp.length < headerEnd + TAG_SIZE) return undefined
  try {
    const body = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: iv(keys.salt, ssrcOf(srtp), roc, sequenceOf(srtp)), additionalData: own(srtp.subarray(0, headerEnd)), tagLength: 128 },
        keys.key,
        own(srtp.subarray(headerEnd)),
      ),
    )
    const out = new Uint8Array(headerEnd + body.length)
    out.set(srtp.subarray(0, headerEnd), 0)
    out.set(body, headerEnd)
    return out
  } catch {
    return undefined
  }
}

/** @param {Uint8Array} srtp */
export const mkiOf = (srtp) => (srtp.length < 12 + OVERHEAD ? undefined : new DataView(srtp.buffer, srtp.byteOffset, srtp.byteLength).getUint32(srtp.length - 4))

/** A sender's rollover counter (RFC 3711 §3.3.1). */
export class SenderIndex {
  roc = 0
  last = -1
  /** @param {number} sequence */
  next(sequence) {
    if (this.last >= 0 && sequence < this.last && this.last - sequence > 0x8000) this.roc = (this.roc + 1) >>> 0
    this.last = sequence
    return this.roc
  }
}

/** One received stream's ROC estimate and 64-packet replay window (RFC 3711 §3.3). */
export class ReplayWindow {
  roc = 0
  highest = -1
  seen = 0n
  /** @param {number} sequence */
  estimate(sequence) {
    if (this.highest < 0) return this.roc
    const s = this.highest & 0xffff
    if (s < 0x8000) return sequence - s > 0x8000 ? (this.roc - 1) >>> 0 : this.roc
    return s - 0x8000 > sequence ? (this.roc + 1) >>> 0 : this.roc
  }
  /** @param {number} roc @param {number} sequence @returns {"replayed" | "too-old" | undefined} */
  check(roc, sequence) {
    if (this.highest < 0) return undefined
    const index = roc * 0x10000 + sequence
    const top = this.roc * 0x10000 + (this.highest & 0xffff)
    if (index > top) return undefined
    const behind = top - index
    if (behind >= 64) return "too-old"
    return ((this.seen >> BigInt(behind)) & 1n) === 1n ? "replayed" : undefined
  }
  /** @param {number} roc @param {number} sequence */
  accept(roc, sequence) {
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
    } else this.seen |= 1n << BigInt(top - index)
  }
}

/**
 * @typedef {{ decrypted: number, authFailed: number, replayed: number, unknownEpoch: number, malformed: number, notSent: number }} CryptoCounters
 * @typedef {{ profile: string, epochs: ReadonlyArray<{ epoch: number, key: string }>, wrapKey?: string }} MediaKeys
 * @typedef {{ type: "media-keys", meeting: string, epoch: number, wrapped: Record<string, string>, activateInMs: number }} MediaKeyEvent
 */

const KEPT = 4
/** Rollover counters tried for a new stream's first packet, at most every 100 ms per stream (as media-crypto.ts). */
const ROC_SEARCH = 64

/**
 * This participant's key ring (as src/actors/client/media-crypto.ts): epochs
 * held, the one sent under, per-kind counters of what was refused and why.
 *
 * @param {string} meeting @param {string} participant @param {MediaKeys | undefined} initial (none: end-to-end, the leader's keys come later)
 */
export const keyRing = (meeting, participant, initial) => {
  /** @type {Map<number, Uint8Array>} */
  const held = new Map()
  const wrapKey = initial?.wrapKey === undefined ? undefined : crypto.subtle.importKey("raw", own(fromBase64(initial.wrapKey)), "AES-GCM", false, ["decrypt"])
  let sending = 0
  /** @type {{ epoch: number, at: number } | undefined} */
  let pending
  /** @type {number | undefined} */
  let wanted
  /** @type {Map<string, Promise<SessionKeys>>} */
  const derived = new Map()
  /** @type {Map<number, SenderIndex>} */
  const senders = new Map()
  /** @type {Map<number, ReplayWindow>} */
  const windows = new Map()
  /** @type {Map<number, number>} */
  const searched = new Map()
  /** @param {number} ssrc */
  const searchAllowed = (ssrc) => {
    const t = performance.now()
    if (t - (searched.get(ssrc) ?? -Infinity) < 100) return false
    if (searched.size >= 256) searched.clear()
    searched.set(ssrc, t)
    return true
  }
  /** @type {Record<string, CryptoCounters>} */
  const counters = {}
  const countersOf = (/** @type {string} */ kind) => (counters[kind] ??= { decrypted: 0, authFailed: 0, replayed: 0, unknownEpoch: 0, malformed: 0, notSent: 0 })
  /** @type {Record<string, Promise<unknown>>} */
  const chains = {}
  /** @type {Record<string, number>} */
  const depth = {}
  /** Packets dropped because WebCrypto fell this far behind (a flood): drop, never buffer without bound. */
  const MAX_DEPTH = 256
  /** @template T @param {string} lane @param {() => Promise<T | undefined>} step @returns {Promise<T | undefined>} */
  const inOrder = (lane, step) => {
    if ((depth[lane] ?? 0) >= MAX_DEPTH) {
      dropped++
      return Promise.resolve(undefined)
    }
    depth[lane] = (depth[lane] ?? 0) + 1
    const next = (chains[lane] ?? Promise.resolve()).then(step, step).finally(() => void depth[lane]--)
    chains[lane] = next.catch(() => undefined)
    return next
  }
  let dropped = 0

  /**
   * `follow`: send under it next whatever its number (end-to-end: the leader's latest, as media-crypto.ts).
   * @param {number} epoch @param {Uint8Array} key @param {number} activateInMs @param {boolean} [follow]
   */
  const take = (epoch, key, activateInMs, follow = false) => {
    const had = held.get(epoch)
    if (had !== undefined && (!follow || had.every((b, i) => b === key[i]))) return
    // The leader's word wins over an older key under the same id.
    if (had !== undefined) derived.clear()
    held.delete(epoch)
    held.set(epoch, key)
    for (const e of held.keys()) if (held.size > KEPT && e !== epoch && e !== sending) held.delete(e)
    if (wanted !== undefined && (follow || epoch >= wanted)) wanted = undefined
    if (follow ? epoch !== sending : epoch > sending && (pending === undefined || epoch > pending.epoch)) pending = { epoch, at: performance.now() + activateInMs }
  }
  /** @param {MediaKeys} keys */
  const add = (keys) => {
    for (const e of keys.epochs) take(e.epoch, fromBase64(e.key), 0)
  }
  if (initial !== undefined) add(initial)
  /** @param {number} epoch @param {number} ssrc */
  const keysFor = (epoch, ssrc) => {
    const key = held.get(epoch)
    if (key === undefined) return undefined
    const id = `${epoch}:${ssrc}`
    let keys = derived.get(id)
    if (keys === undefined) {
      if (derived.size >= 512) derived.clear()
      derived.set(id, (keys = deriveSessionKeys(key, ssrc)))
    }
    return keys
  }
  const sendingEpoch = () => {
    if (pending !== undefined && performance.now() >= pending.at) {
      if (held.has(pending.epoch)) sending = pending.epoch
      pending = undefined
    }
    return sending
  }

  return {
    counters,
    dropped: () => dropped,
    sendingEpoch,
    epochs: () => [...held.keys()].sort((a, b) => a - b),
    wanted: () => wanted,
    add,
    take,
    /** In an end-to-end meeting: the agreement (e2e.js) sets what the summary shows. @type {undefined | { securityCode: () => string | undefined, leader: () => string | undefined, counters: Record<string, number> }} */
    endToEnd: undefined,
    /** SRTP for `packet`, in the order packets were given (per kind). @param {string} kind @param {Uint8Array} packet */
    protect: (kind, packet) => {
      const ssrc = ssrcOf(packet)
      const epoch = sendingEpoch()
      const keys = keysFor(epoch, ssrc)
      if (keys === undefined) {
        countersOf(kind).notSent++
        return Promise.resolve(undefined)
      }
      let index = senders.get(ssrc)
      if (index === undefined) senders.set(ssrc, (index = new SenderIndex()))
      const roc = index.next(sequenceOf(packet))
      return inOrder(`out:${kind}`, async () => protect(await keys, packet, roc, epoch))
    },
    /** The RTP inside, in arrival order (per kind), or undefined (counted by why). @param {string} kind @param {Uint8Array} packet */
    unprotect: (kind, packet) =>
      inOrder(`in:${kind}`, async () => {
        const c = countersOf(kind)
        const epoch = mkiOf(packet)
        if (epoch === undefined || headerLength(packet) === undefined) return void c.malformed++
        const ssrc = ssrcOf(packet)
        const keys = keysFor(epoch, ssrc)
        if (keys === undefined) {
          c.unknownEpoch++
          if (initial === undefined || epoch > Math.max(0, ...held.keys())) wanted = Math.max(wanted ?? 0, epoch)
          return undefined
        }
        let window = windows.get(ssrc)
        if (window === undefined) {
          if (windows.size >= 256) windows.clear()
          windows.set(ssrc, (window = new ReplayWindow()))
        }
        const sequence = sequenceOf(packet)
        let roc = window.estimate(sequence)
        if (window.check(roc, sequence) !== undefined) return void c.replayed++
        const body = packet.subarray(0, packet.length - MKI_SIZE)
        let plain = await unprotect(await keys, body, roc)
        if (plain === undefined && window.highest < 0 && searchAllowed(ssrc)) {
          // A stream heard for the first time: its sender may have wrapped before this page joined (as media-crypto.ts).
          for (let r = 1; r < ROC_SEARCH && plain === undefined; r++) if ((plain = await unprotect(await keys, body, r)) !== undefined) roc = r
        }
        if (plain === undefined) return void c.authFailed++
        window.accept(roc, sequence)
        c.decrypted++
        return plain
      }),
    /** Takes a new epoch from a meeting event when it was wrapped for this participant. @param {MediaKeyEvent} event */
    onEvent: async (event) => {
      const wrapped = event.wrapped[participant]
      if (event.meeting !== meeting || wrapped === undefined || wrapKey === undefined) return false
      const bytes = fromBase64(wrapped)
      if (bytes.length !== 60) return false
      try {
        const key = new Uint8Array(
          await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: own(bytes.subarray(0, 12)), additionalData: new TextEncoder().encode(`${meeting}|${event.epoch}|${participant}`), tagLength: 128 },
            await wrapKey,
            own(bytes.subarray(12)),
          ),
        )
        take(event.epoch, key, event.activateInMs)
        return true
      } catch {
        return false
      }
    },
  }
}
