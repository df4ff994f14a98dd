/**
 * The STUN subset the media plane uses (RFC 5389), in the manner of ICE-lite
 * servers: a Binding Request carries the media token in USERNAME; the answer
 * is a Binding Success (with XOR-MAPPED-ADDRESS) or a Binding Error
 * (ERROR-CODE); Binding Indications are keepalives. STUN and RTP share a
 * port and are told apart by the first byte (RFC 7983: 0–3 STUN, 128–191 RTP).
 *
 * Written here rather than taken from the `stun` package: that one is
 * unmaintained and depends on the deprecated `ip` package; this subset is
 * small. CRC-32 is Node's own (zlib.crc32).
 *
 * @since 0.1.0
 */
import { isIPv4 } from "node:net"
import { crc32 } from "node:zlib"

/** @category constants */
export const Type = {
  BindingRequest: 0x0001,
  BindingSuccess: 0x0101,
  BindingError: 0x0111,
  BindingIndication: 0x0011,
} as const

/** @category constants */
export const Attribute = {
  Username: 0x0006,
  ErrorCode: 0x0009,
  XorMappedAddress: 0x0020,
  Software: 0x8022,
  Fingerprint: 0x8028,
} as const

const MAGIC_COOKIE = 0x2112a442
const HEADER = 20
const FINGERPRINT_XOR = 0x5354554e

/** @category models */
export interface StunMessage {
  readonly type: number
  readonly transactionId: Buffer
  readonly attributes: ReadonlyMap<number, Buffer>
}

/** RFC 7983: the first byte says STUN. @category demultiplexing */
export const looksLikeStun = (packet: Uint8Array): boolean =>
  packet.length >= HEADER && packet[0]! < 4 && packet[4] === 0x21 && packet[5] === 0x12 && packet[6] === 0xa4 && packet[7] === 0x42

/** RFC 7983: the first byte says RTP or RTCP. @category demultiplexing */
export const looksLikeRtp = (packet: Uint8Array): boolean => packet.length > 0 && packet[0]! >= 128 && packet[0]! <= 191

/**
 * Parses a STUN message; undefined for anything malformed, including a wrong
 * FINGERPRINT.
 *
 * @category decoding
 */
export const decode = (packet: Buffer): StunMessage | undefined => {
  if (!looksLikeStun(packet)) return undefined
  const type = packet.readUInt16BE(0)
  const length = packet.readUInt16BE(2)
  if (length % 4 !== 0 || HEADER + length !== packet.length) return undefined
  const attributes = new Map<number, Buffer>()
  let offset = HEADER
  while (offset + 4 <= packet.length) {
    const attrType = packet.readUInt16BE(offset)
    const attrLength = packet.readUInt16BE(offset + 2)
    const end = offset + 4 + attrLength
    if (end > packet.length) return undefined
    if (attrType === Attribute.Fingerprint) {
      if (attrLength !== 4 || end !== packet.length) return undefined
      const expected = (crc32(packet.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0
      if (packet.readUInt32BE(offset + 4) !== expected) return undefined
    }
    if (!attributes.has(attrType)) attributes.set(attrType, packet.subarray(offset + 4, end))
    offset = end + ((4 - (attrLength % 4)) % 4)
  }
  if (offset !== packet.length) return undefined
  return { type, transactionId: packet.subarray(8, HEADER), attributes }
}

const attribute = (type: number, value: Buffer): Buffer => {
  const padded = Buffer.alloc(4 + value.length + ((4 - (value.length % 4)) % 4))
  padded.writeUInt16BE(type, 0)
  padded.writeUInt16BE(value.length, 2)
  value.copy(padded, 4)
  return padded
}

/** Builds a message, ending with a FINGERPRINT. @category encoding */
export const encode = (type: number, transactionId: Uint8Array, attributes: ReadonlyArray<readonly [number, Buffer]>): Buffer => {
  const body = Buffer.concat(attributes.map(([t, v]) => attribute(t, v)))
  const header = Buffer.alloc(HEADER)
  header.writeUInt16BE(type, 0)
  header.writeUInt16BE(body.length + 8, 2)
  header.writeUInt32BE(MAGIC_COOKIE, 4)
  header.set(transactionId.subarray(0, 12), 8)
  const withoutFingerprint = Buffer.concat([header, body])
  const fingerprint = Buffer.alloc(4)
  fingerprint.writeUInt32BE((crc32(withoutFingerprint) ^ FINGERPRINT_XOR) >>> 0, 0)
  return Buffer.concat([withoutFingerprint, attribute(Attribute.Fingerprint, fingerprint)])
}

/** @category encoding */
export const bindingRequest = (transactionId: Uint8Array, username: string): Buffer =>
  encode(Type.BindingRequest, transactionId, [[Attribute.Username, Buffer.from(username, "utf8")]])

/**
 * A Binding Request without USERNAME: on a bound source, a consent check
 * (RFC 7675, on a sub-second budget); anywhere else, a reachability probe.
 * Either way the answer is a Binding Success.
 *
 * @category encoding
 */
export const consentRequest = (transactionId: Uint8Array): Buffer => encode(Type.BindingRequest, transactionId, [])

/** @category encoding */
export const bindingIndication = (transactionId: Uint8Array): Buffer => encode(Type.BindingIndication, transactionId, [])

/** @category encoding */
export const bindingSuccess = (transactionId: Uint8Array, address: string, port: number): Buffer => {
  const ipv4 = isIPv4(address)
  const value = Buffer.alloc(ipv4 ? 8 : 20)
  value.writeUInt8(ipv4 ? 0x01 : 0x02, 1)
  value.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2)
  if (ipv4) {
    const n = address.split(".").reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0
    value.writeUInt32BE((n ^ MAGIC_COOKIE) >>> 0, 4)
  } else {
    const mask = Buffer.alloc(16)
    mask.writeUInt32BE(MAGIC_COOKIE, 0)
    mask.set(transactionId.subarray(0, 12), 4)
    expandIpv6(address).forEach((b, i) => value.writeUInt8(b ^ mask[i]!, 4 + i))
  }
  return encode(Type.BindingSuccess, transactionId, [[Attribute.XorMappedAddress, value]])
}

/** @category encoding */
export const bindingError = (transactionId: Uint8Array, code: number, reason: string): Buffer => {
  const value = Buffer.concat([Buffer.from([0, 0, Math.floor(code / 100), code % 100]), Buffer.from(reason, "utf8")])
  return encode(Type.BindingError, transactionId, [[Attribute.ErrorCode, value]])
}

/** @category reading */
export const username = (message: StunMessage): string | undefined =>
  message.attributes.get(Attribute.Username)?.toString("utf8")

/** @category reading */
export const errorCode = (message: StunMessage): { code: number; reason: string } | undefined => {
  const v = message.attributes.get(Attribute.ErrorCode)
  if (v === undefined || v.length < 4) return undefined
  return { code: (v[2]! & 0x07) * 100 + v[3]!, reason: v.subarray(4).toString("utf8") }
}

/** @category reading */
export const xorMappedAddress = (message: StunMessage): { address: string; port: number } | undefined => {
  const v = message.attributes.get(Attribute.XorMappedAddress)
  if (v === undefined || v.length < 8) return undefined
  const port = v.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16)
  if (v[1] === 0x01) {
    const n = (v.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0
    return { address: [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join("."), port }
  }
  if (v.length < 20) return undefined
  const mask = Buffer.alloc(16)
  mask.writeUInt32BE(MAGIC_COOKIE, 0)
  mask.set(message.transactionId, 4)
  const bytes = Array.from({ length: 16 }, (_, i) => v[4 + i]! ^ mask[i]!)
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16))
  return { address: groups.join(":"), port }
}

const expandIpv6 = (address: string): Array<number> => {
  const [head, tail] = address.split("::") as [string, string | undefined]
  const h = head === "" ? [] : head.split(":")
  const t = tail === undefined || tail === "" ? [] : tail.split(":")
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
  return groups.flatMap((g) => {
    const n = parseInt(g, 16)
    return [(n >> 8) & 0xff, n & 0xff]
  })
}
