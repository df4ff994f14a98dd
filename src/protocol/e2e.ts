/**
 * End-to-end media keys: for a meeting created end-to-end encrypted, the web
 * tier makes no key and holds none. Participants make them and share them
 * among themselves, so that nothing on the server side can decrypt media.
 *
 *   Join.keyShare      each participant's X25519 public key, made for this join only (ephemeral); the roster carries it
 *   the leader         the participant with the smallest id among those with a key share: it makes each epoch's key
 *   Signal → MMR       E2eKeys: an epoch's key wrapped for each participant (AES-256-GCM under an X25519 agreement
 *                      between the leader's share and the participant's) | E2eKeyRequest: "I lack epoch N"
 *   meeting events     E2eEvent: the signal, with `from` set by the MMR from the sender's join token
 *   security code      digits from the meeting id and every participant's key share: the same on every
 *                      screen unless someone in the middle put in shares of its own (compare them aloud)
 *
 * Epoch ids are random 32-bit numbers: a leader that just took over knows
 * nothing of the epochs before it, and two participants who both believed
 * themselves leader for a moment must not make two keys under one id.
 * Receivers send under whatever the leader told last, not the highest id.
 *
 * @since 0.3.0
 */
import { createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomInt } from "node:crypto"
import type { KeyObject } from "node:crypto"
import { Schema } from "effect"
import { MeetingId } from "./meeting.js"

/** An X25519 public key: 32 bytes, base64. @category schemas */
export const KeyShare = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9+/]{43}=$/, { message: () => "an X25519 public key: 32 bytes in base64" }),
)

const Epoch = Schema.Int.pipe(Schema.between(1, 0xffffffff))

/** The leader's key of `epoch`, wrapped for each participant it knows of. @category schemas */
export const E2eKeys = Schema.Struct({
  type: Schema.Literal("e2e-keys"),
  epoch: Epoch,
  /** The leader's key share the keys were wrapped under (receivers check it is the one in the roster). */
  keyShare: KeyShare,
  /** participant id → the epoch's key wrapped for it (base64: IV | ciphertext | tag). */
  wrapped: Schema.Record({ key: Schema.String.pipe(Schema.maxLength(64)), value: Schema.String.pipe(Schema.maxLength(128)) }),
  /** Senders switch to the epoch this long after hearing of it; receivers take it at once. */
  activateInMs: Schema.Number.pipe(Schema.between(0, 60_000)),
})
export type E2eKeys = typeof E2eKeys.Type

/** A participant saw packets under an epoch it lacks (or holds no key at all: epoch 0). @category schemas */
export const E2eKeyRequest = Schema.Struct({ type: Schema.Literal("e2e-key-request"), epoch: Schema.Int.pipe(Schema.between(0, 0xffffffff)) })
export type E2eKeyRequest = typeof E2eKeyRequest.Type

/** What a participant sends the others through its MMR. @category schemas */
export const E2eSignal = Schema.Union(E2eKeys, E2eKeyRequest)
export type E2eSignal = typeof E2eSignal.Type

/** A signal as the MMR publishes it on the meeting's events: `from` is the sender's join token's participant. @category schemas */
export const E2eEvent = Schema.Struct({ type: Schema.Literal("e2e"), meeting: MeetingId, from: Schema.String, signal: E2eSignal })
export type E2eEvent = typeof E2eEvent.Type

/** Join-info's `media` for an end-to-end meeting: the profile, and no key. @category schemas */
export const EndToEndMedia = Schema.Struct({ profile: Schema.Literal("AEAD_AES_256_GCM"), endToEnd: Schema.Literal(true) })
export type EndToEndMedia = typeof EndToEndMedia.Type

/** What join-info says of every end-to-end meeting. @category constants */
export const endToEndMedia: EndToEndMedia = { profile: "AEAD_AES_256_GCM", endToEnd: true }

/** This join's own X25519 key pair. @category models */
export interface Identity {
  readonly keyShare: string
  readonly privateKey: KeyObject
}

/** A fresh key pair, for one join. @category keys */
export const newIdentity = (): Identity => {
  const { publicKey, privateKey } = generateKeyPairSync("x25519")
  const x = publicKey.export({ format: "jwk" }).x!
  return { keyShare: Buffer.from(x, "base64url").toString("base64"), privateKey }
}

/** An identity from its 32-byte private key (tests, and the browser's interop check). @category keys */
export const identityFrom = (privateKey: Uint8Array): Identity => {
  // PKCS #8 for X25519 (RFC 8410): a fixed prefix, then the 32 bytes.
  const der = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), privateKey])
  const key = createPrivateKey({ key: der, format: "der", type: "pkcs8" })
  const x = createPublicKey(key).export({ format: "jwk" }).x!
  return { keyShare: Buffer.from(x, "base64url").toString("base64"), privateKey: key }
}

/**
 * The key the leader wraps an epoch for one participant under: HKDF-SHA256
 * of their X25519 agreement, bound to the meeting and to both shares. Either
 * side computes it from its own private key and the other's share.
 *
 * @category keys
 */
export const wrapKeyBetween = (own: Identity, peerShare: string, meeting: string, leaderShare: string, recipientShare: string): Buffer | undefined => {
  try {
    const peer = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(peerShare, "base64").toString("base64url") }, format: "jwk" })
    const shared = diffieHellman({ privateKey: own.privateKey, publicKey: peer })
    // An all-zero agreement means a low-order share: someone is forcing a known key (RFC 7748 §6.1).
    if (shared.every((b) => b === 0)) return undefined
    return Buffer.from(hkdfSync("sha256", shared, Buffer.from(meeting, "utf8"), Buffer.from(`meetzone e2e ${leaderShare} ${recipientShare}`, "utf8"), 32))
  } catch {
    return undefined
  }
}

/** Who makes the keys: the smallest id among participants with a key share. @category leader */
export const leaderOf = (roster: ReadonlyArray<{ readonly id: string; readonly keyShare?: string | undefined }>): string | undefined => {
  let leader: string | undefined
  for (const p of roster) if (p.keyShare !== undefined && (leader === undefined || p.id < leader)) leader = p.id
  return leader
}

/** A new epoch id: random, never 0, none of `held`. @category leader */
export const newEpoch = (held: ReadonlyArray<number> = []): number => {
  for (;;) {
    const epoch = randomInt(1, 0xffffffff)
    if (!held.includes(epoch)) return epoch
  }
}

/**
 * Six groups of five digits from the meeting and every participant's key
 * share (sorted by participant): read aloud and compared, they show that
 * nobody between the participants swapped a share for its own.
 *
 * @category verification
 */
export const securityCode = (meeting: string, roster: ReadonlyArray<{ readonly id: string; readonly keyShare?: string | undefined }>): string => {
  const lines = roster
    .filter((p) => p.keyShare !== undefined)
    .map((p) => `${p.id}:${p.keyShare}`)
    .sort()
  const digest = createHash("sha256").update(`meetzone security code\n${meeting}\n${lines.join("\n")}`).digest()
  const groups: Array<string> = []
  for (let i = 0; i < 6; i++) groups.push(String(digest.readUInt32BE(i * 4) % 100_000).padStart(5, "0"))
  return groups.join(" ")
}
