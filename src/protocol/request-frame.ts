/**
 * A request's bytes as the kernel sends them: what the actor needs before
 * the request itself (the asker's timeout, the correlation id) in a few
 * binary bytes in front of the request's JSON, instead of NATS headers —
 * which nats.js encodes as text on every publish and decodes on every
 * delivery, a tenth of a round trip.
 *
 *   0x01          frame version (a bare JSON request starts with "{")
 *   u32 BE        the asker's timeout in ms, relative (0: none)
 *   u8  n         correlation id length (0: none), then its n UTF-8 bytes
 *   …             the request, JSON (UTF-8)
 *
 * A request without the frame — a raw NATS client's JSON, with or without
 * the Mz-Timeout / Mz-Correlation headers — is read as before.
 *
 * @since 0.6.0
 */

/** @category constants */
export const VERSION = 0x01

const HEAD = 6
const MAX_CORRELATION = 255
const MAX_TIMEOUT = 0xffff_ffff

/** @category models */
export interface Frame {
  /** The asker's timeout in ms; undefined when it gave none. */
  readonly timeoutMs: number | undefined
  readonly correlationId: string | undefined
  /** The request's JSON bytes. */
  readonly body: Uint8Array
}

/** A correlation id's bytes, cut to what the frame holds (ids are short: `join-<participant>`). */
const correlationBytes = (id: string | undefined): Buffer | undefined => {
  if (id === undefined || id === "") return undefined
  let bytes = Buffer.from(id, "utf8")
  // Cut on a character, not inside one (bounded: one character fewer a turn).
  for (let cut = id; bytes.length > MAX_CORRELATION; ) bytes = Buffer.from((cut = cut.slice(0, -1)), "utf8")
  return bytes
}

/**
 * The frame of a request whose JSON text is `json`.
 *
 * @category encoding
 */
export const encode = (json: string, timeoutMs: number | undefined, correlationId: string | undefined): Buffer => {
  const correlation = correlationBytes(correlationId)
  const n = correlation?.length ?? 0
  const out = Buffer.allocUnsafe(HEAD + n + Buffer.byteLength(json, "utf8"))
  out[0] = VERSION
  out.writeUInt32BE(timeoutMs === undefined ? 0 : Math.min(MAX_TIMEOUT, Math.max(1, Math.round(timeoutMs))), 1)
  out[5] = n
  if (correlation !== undefined) correlation.copy(out, HEAD)
  out.write(json, HEAD + n, "utf8")
  return out
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * Reads a request's bytes: the frame's parts, `undefined` body-only parts
 * for a bare JSON request, or a string saying why a frame is malformed.
 *
 * @category decoding
 */
export const decode = (bytes: Uint8Array): Frame | string => {
  if (bytes[0] !== VERSION) return { timeoutMs: undefined, correlationId: undefined, body: bytes }
  if (bytes.length < HEAD) return `request frame: ${bytes.length} bytes, shorter than its ${HEAD}-byte head`
  const timeout = ((bytes[1]! << 24) >>> 0) + (bytes[2]! << 16) + (bytes[3]! << 8) + bytes[4]!
  const n = bytes[5]!
  if (bytes.length < HEAD + n) return `request frame: a ${n}-byte correlation id in ${bytes.length - HEAD} bytes`
  let correlationId: string | undefined
  if (n > 0) {
    try {
      correlationId = utf8.decode(bytes.subarray(HEAD, HEAD + n))
    } catch {
      return "request frame: the correlation id is not UTF-8"
    }
  }
  return { timeoutMs: timeout === 0 ? undefined : timeout, correlationId, body: bytes.subarray(HEAD + n) }
}

/**
 * The request's JSON bytes, frame or not (what the relay's policy reads);
 * `undefined` for a malformed frame.
 *
 * @category decoding
 */
export const bodyOf = (bytes: Uint8Array): Uint8Array | undefined => {
  const frame = decode(bytes)
  return typeof frame === "string" ? undefined : frame.body
}
