/**
 * Media tokens: what binds a media connection to a participant. An MMR
 * issues them at Join — one per media kind and transport, so a client falling
 * back from UDP to TCP never needs a token it already spent — and checks them
 * when a connection's first packet (a STUN Binding Request) presents one.
 * HMAC-SHA256 with a secret only that MMR knows; each expires, and each binds
 * at most once (the MMR remembers spent nonces until they expire).
 *
 * @since 0.1.0
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from "node:crypto"
import * as RandomPool from "./random-pool.js"
import { Either, Schema } from "effect"
import { MediaKind, MediaTransport } from "./media.js"

/** @category schemas */
export const MediaClaims = Schema.Struct({
  meeting: Schema.String,
  participant: Schema.String,
  kind: MediaKind,
  transport: MediaTransport,
  /** Epoch seconds. */
  expiresAt: Schema.Number,
  nonce: Schema.String,
})
export type MediaClaims = typeof MediaClaims.Type

/** The tokens a participant gets at Join: per kind, per transport. @category schemas */
export const MediaTokenSet = Schema.Record({
  key: MediaKind,
  value: Schema.Record({ key: MediaTransport, value: Schema.String }),
})
export type MediaTokenSet = typeof MediaTokenSet.Type

const decodeClaims = Schema.decodeUnknownEither(Schema.parseJson(MediaClaims))

/** @category models */
export interface MediaTokenIssuer {
  readonly issue: (claims: Omit<MediaClaims, "nonce" | "expiresAt">, ttlSeconds: number, nowMs: number) => string
  /** The claims, or why not: "malformed", "forged" or "expired". */
  readonly verify: (token: string, nowMs: number) => Either.Either<MediaClaims, "malformed" | "forged" | "expired">
}

/** @category constructors */
export const make = (secret: Uint8Array = randomBytes(32)): MediaTokenIssuer => {
  // The key imported once; an admit issues nine tokens (three kinds × three transports).
  const key = createSecretKey(secret)
  const sign = (payload: string) => createHmac("sha256", key).update(payload).digest().subarray(0, 16)
  const nonce = RandomPool.base64url(9)
  return {
    issue: (claims, ttlSeconds, nowMs) => {
      const full: MediaClaims = {
        ...claims,
        expiresAt: Math.floor(nowMs / 1000) + ttlSeconds,
        nonce: nonce(),
      }
      const payload = Buffer.from(JSON.stringify(full)).toString("base64url")
      return `${payload}.${sign(payload).toString("base64url")}`
    },
    verify: (token, nowMs) => {
      const dot = token.indexOf(".")
      if (dot <= 0 || token.length > 512) return Either.left("malformed")
      const payload = token.slice(0, dot)
      const given = Buffer.from(token.slice(dot + 1), "base64url")
      const expected = sign(payload)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return Either.left("forged")
      const claims = decodeClaims(Buffer.from(payload, "base64url").toString("utf8"))
      if (Either.isLeft(claims)) return Either.left("malformed")
      return claims.right.expiresAt * 1000 < nowMs ? Either.left("expired") : Either.right(claims.right)
    },
  }
}
