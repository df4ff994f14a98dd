/**
 * The reply envelope: every answer to a request is one of
 *
 *   {"ok": <success>}      the behaviour succeeded
 *   {"fail": <failure>}    the behaviour failed with one of its declared failures
 *   {"error": <kernel>}    the kernel answered for it (DecodeError, RemoteError)
 *
 * Keeping the three apart means a domain failure can never be mistaken for a
 * kernel error, whatever its tag, and a raw NATS client can read the answer.
 *
 * @since 0.1.0
 */
import type { Codec } from "./codec.js"

/** @category models */
export type Envelope =
  | { readonly kind: "ok"; readonly value: unknown }
  | { readonly kind: "fail"; readonly value: unknown }
  | { readonly kind: "error"; readonly value: unknown }

/** @category encoding */
export const encodeOk = (codec: Codec, value: unknown): Uint8Array =>
  // JSON drops undefined fields; null keeps the envelope readable for Void replies.
  codec.encode({ ok: value === undefined ? null : value })

/** @category encoding */
export const encodeFail = (codec: Codec, value: unknown): Uint8Array => codec.encode({ fail: value })

/** @category encoding */
export const encodeError = (codec: Codec, value: unknown): Uint8Array => codec.encode({ error: value })

/**
 * Reads an envelope; `undefined` when the bytes are not one.
 *
 * @category decoding
 */
export const decodeEnvelope = (codec: Codec, bytes: Uint8Array): Envelope | undefined => {
  let plain: unknown
  try {
    plain = codec.decode(bytes)
  } catch {
    return undefined
  }
  if (typeof plain !== "object" || plain === null) return undefined
  if ("ok" in plain) return { kind: "ok", value: (plain as { ok: unknown }).ok }
  if ("fail" in plain) return { kind: "fail", value: (plain as { fail: unknown }).fail }
  if ("error" in plain) return { kind: "error", value: (plain as { error: unknown }).error }
  return undefined
}
