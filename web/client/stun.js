// @ts-check
/**
 * The STUN subset the MMR's media plane speaks (RFC 5389), for the browser:
 * a Binding Request carrying the media token in USERNAME binds a media
 * channel; Binding Indications keep it alive. Same wire forms as
 * src/protocol/stun.ts, FINGERPRINT included.
 */

const MAGIC = 0x2112a442
const HEADER = 20
export const BINDING_REQUEST = 0x0001
export const BINDING_SUCCESS = 0x0101
export const BINDING_ERROR = 0x0111
export const BINDING_INDICATION = 0x0011
const USERNAME = 0x0006
const ERROR_CODE = 0x0009
const FINGERPRINT = 0x8028

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** @param {Uint8Array} bytes */
const crc32 = (bytes) => {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** @returns {Uint8Array} a new random 96-bit transaction id */
export const transactionId = () => crypto.getRandomValues(new Uint8Array(12))

/**
 * @param {number} type
 * @param {Uint8Array} tid
 * @param {Array<[number, Uint8Array]>} attributes
 */
const encode = (type, tid, attributes) => {
  const sizes = attributes.map(([, v]) => 4 + v.length + ((4 - (v.length % 4)) % 4))
  const bodyLength = sizes.reduce((a, b) => a + b, 0)
  const out = new Uint8Array(HEADER + bodyLength + 8)
  const view = new DataView(out.buffer)
  view.setUint16(0, type)
  view.setUint16(2, bodyLength + 8)
  view.setUint32(4, MAGIC)
  out.set(tid.subarray(0, 12), 8)
  let at = HEADER
  attributes.forEach(([t, v], i) => {
    view.setUint16(at, t)
    view.setUint16(at + 2, v.length)
    out.set(v, at + 4)
    at += sizes[i]
  })
  view.setUint16(at, FINGERPRINT)
  view.setUint16(at + 2, 4)
  view.setUint32(at + 4, (crc32(out.subarray(0, at)) ^ 0x5354554e) >>> 0)
  return out
}

/** @param {Uint8Array} tid @param {string} token */
export const bindingRequest = (tid, token) => encode(BINDING_REQUEST, tid, [[USERNAME, new TextEncoder().encode(token)]])

/** No token: a consent check on a bound channel (RFC 7675), answered by the MMR as an echo. @param {Uint8Array} tid */
export const consentRequest = (tid) => encode(BINDING_REQUEST, tid, [])

export const bindingIndication = () => encode(BINDING_INDICATION, transactionId(), [])

/** RFC 7983: STUN's first byte is 0–3, and the magic cookie follows. @param {Uint8Array} p */
export const looksLikeStun = (p) => p.length >= HEADER && p[0] < 4 && p[4] === 0x21 && p[5] === 0x12 && p[6] === 0xa4 && p[7] === 0x42

/**
 * @param {Uint8Array} p
 * @returns {{ type: number, transactionId: Uint8Array, error?: string } | undefined}
 */
export const parse = (p) => {
  if (!looksLikeStun(p)) return undefined
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength)
  const type = view.getUint16(0)
  if (HEADER + view.getUint16(2) !== p.length) return undefined
  /** @type {string | undefined} */
  let error
  for (let at = HEADER; at + 4 <= p.length; ) {
    const t = view.getUint16(at)
    const length = view.getUint16(at + 2)
    if (at + 4 + length > p.length) return undefined
    // A wrong FINGERPRINT: not ours, or damaged on the way.
    if (t === FINGERPRINT && (length !== 4 || view.getUint32(at + 4) !== (crc32(p.subarray(0, at)) ^ 0x5354554e) >>> 0)) return undefined
    if (t === ERROR_CODE && length >= 4 && at + 4 + length <= p.length) {
      const code = (p[at + 6] & 0x07) * 100 + p[at + 7]
      error = `${code} ${new TextDecoder().decode(p.subarray(at + 8, at + 4 + length))}`
    }
    at += 4 + length + ((4 - (length % 4)) % 4)
  }
  return { type, transactionId: p.subarray(8, HEADER), ...(error !== undefined ? { error } : {}) }
}

/** @param {Uint8Array} a @param {Uint8Array} b */
export const sameTransaction = (a, b) => a.length === b.length && a.every((x, i) => x === b[i])
