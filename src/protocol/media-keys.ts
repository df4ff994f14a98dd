/**
 * Media keys: how the web tier's per-meeting keys reach the participants it
 * admitted, and nobody else (MMRs and tunnels forward media they cannot read).
 *
 *   join-info          `media`: the meeting's key epochs and this participant's own wrapping key, over TLS
 *   meeting events     MediaKeyEvent: a new epoch, wrapped (AES-256-GCM) for each participant still in the meeting
 *   GET /api/meetings/:id/media-keys   the epochs again (Bearer join token), for a participant that missed an event
 *
 * A new epoch comes when someone leaves and on a period; it is told before it
 * is used (`activateInMs`) so that every receiver holds it when the first
 * packet under it arrives. A participant who left is sent no new epoch and
 * is refused one by the web tier.
 *
 * @since 0.2.0
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto"
import { Schema } from "effect"
import { MeetingId } from "./meeting.js"

/** One key epoch: its id (the MKI packets carry) and its 256-bit meeting key (base64). @category schemas */
export const KeyEpoch = Schema.Struct({ epoch: Schema.Int.pipe(Schema.between(1, 0xffffffff)), key: Schema.String })
export type KeyEpoch = typeof KeyEpoch.Type

/** What a participant is given to encrypt and decrypt a meeting's media. @category schemas */
export const MediaKeys = Schema.Struct({
  profile: Schema.Literal("AEAD_AES_256_GCM"),
  /** The epochs a receiver may still see, oldest first; senders use the last. */
  epochs: Schema.Array(KeyEpoch).pipe(Schema.minItems(1), Schema.maxItems(8)),
  /** This participant's own key (base64) that later epochs come wrapped in. */
  wrapKey: Schema.optional(Schema.String),
})
export type MediaKeys = typeof MediaKeys.Type

/** A new key epoch, published on the meeting's events subject. @category schemas */
export const MediaKeyEvent = Schema.Struct({
  type: Schema.Literal("media-keys"),
  meeting: MeetingId,
  epoch: Schema.Int.pipe(Schema.between(1, 0xffffffff)),
  /** participant id → the epoch's key wrapped with that participant's wrapping key (base64: IV | ciphertext | tag). */
  wrapped: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** Senders switch to the new epoch this long after hearing of it; receivers take it at once. */
  activateInMs: Schema.Number.pipe(Schema.between(0, 60_000)),
})
export type MediaKeyEvent = typeof MediaKeyEvent.Type

/** A fresh 256-bit key. @category keys */
export const newKey = (): Buffer => randomBytes(32)

/**
 * A participant's wrapping key: from the meeting's wrapping secret (kept by
 * the web tier only) and the participant id, so that no web server needs to
 * remember one per join.
 *
 * @category keys
 */
export const wrapKeyFor = (wrapSecret: Uint8Array, meeting: string, participant: string): Buffer =>
  Buffer.from(hkdfSync("sha256", wrapSecret, Buffer.from(meeting, "utf8"), Buffer.from(`meetzone wrap ${participant}`, "utf8"), 32))

const aad = (meeting: string, epoch: number, participant: string) => Buffer.from(`${meeting}|${epoch}|${participant}`, "utf8")

/** `key` wrapped for one participant, bound to meeting, epoch and participant. @category keys */
export const wrap = (wrapKey: Uint8Array, meeting: string, epoch: number, participant: string, key: Uint8Array): string => {
  const nonce = randomBytes(12)
  const cipher = createCipheriv("aes-256-gcm", wrapKey, nonce)
  cipher.setAAD(aad(meeting, epoch, participant))
  const body = Buffer.concat([cipher.update(key), cipher.final()])
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64")
}

/** The key inside `wrapped`, or undefined when it is not for this participant, epoch and meeting (or was forged). @category keys */
export const unwrap = (wrapKey: Uint8Array, meeting: string, epoch: number, participant: string, wrapped: string): Buffer | undefined => {
  const bytes = Buffer.from(wrapped, "base64")
  if (bytes.length !== 12 + 32 + 16) return undefined
  try {
    const decipher = createDecipheriv("aes-256-gcm", wrapKey, bytes.subarray(0, 12))
    decipher.setAAD(aad(meeting, epoch, participant))
    decipher.setAuthTag(bytes.subarray(44))
    return Buffer.concat([decipher.update(bytes.subarray(12, 44)), decipher.final()])
  } catch {
    return undefined
  }
}
