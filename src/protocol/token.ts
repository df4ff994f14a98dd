/**
 * Join tokens: what the web lookup hands a client so that controllers and
 * MMRs can tell it may join this meeting as this participant, until it
 * expires. A JWT (HS256) signed with a secret the three share, made and
 * checked with `jose`.
 *
 * The signer/verifier is a service so a deployment can bring its own (e.g.
 * asymmetric keys so MMRs cannot mint tokens).
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schema } from "effect"
import { SignJWT, jwtVerify } from "jose"
import { MeetingId } from "./meeting.js"

/**
 * @category errors
 */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: Schema.String,
  /** What was wrong, for counting: a bad signature, past its expiry, not a token at all, or another's. */
  kind: Schema.optional(Schema.Literal("forged", "expired", "malformed", "mismatch")),
}) {
  override get message(): string {
    return `invalid join token: ${this.reason}`
  }
}

/**
 * What a join token says.
 *
 * @category schemas
 */
export const JoinClaims = Schema.Struct({
  meeting: MeetingId,
  participant: Schema.String,
  name: Schema.String,
  /** Epoch seconds. */
  expiresAt: Schema.Number,
})
export type JoinClaims = typeof JoinClaims.Type

/**
 * @category models
 */
export interface JoinTokensShape {
  /** A signed join token for these claims, valid for `ttl`. */
  readonly sign: (claims: Omit<JoinClaims, "expiresAt">, ttl: Duration.DurationInput) => Effect.Effect<{ token: string; claims: JoinClaims }>
  /** The claims of a token, or why it is not valid (forged, expired, malformed). */
  readonly verify: (token: string) => Effect.Effect<JoinClaims, InvalidToken>
  /** Tokens refused so far in this process, by kind (for operators' metrics). */
  readonly refused?: () => Readonly<Record<"forged" | "expired" | "malformed", number>>
}

/** jose's error codes, as the kinds operators count. */
const kindOf = (e: unknown): "forged" | "expired" | "malformed" => {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined
  return code === "ERR_JWT_EXPIRED" ? "expired" : code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "forged" : "malformed"
}

/**
 * @category tags
 */
export class JoinTokens extends Context.Tag("meetzone/JoinTokens")<JoinTokens, JoinTokensShape>() {}

const ISSUER = "meetzone"
const AUDIENCE = "meetzone-join"

/**
 * HS256 tokens with a shared secret (at least 32 bytes).
 *
 * @category constructors
 */
export const hmac = (secret: string | Uint8Array): JoinTokensShape => {
  const key = typeof secret === "string" ? new TextEncoder().encode(secret) : secret
  if (key.length < 32) throw new Error("the join-token secret must be at least 32 bytes")
  const refused = { forged: 0, expired: 0, malformed: 0 }
  return {
    sign: (claims, ttl) =>
      Effect.promise(async () => {
        const now = Math.floor(Date.now() / 1000)
        const expiresAt = now + Math.max(1, Math.round(Duration.toSeconds(ttl)))
        const token = await new SignJWT({ mtg: claims.meeting, name: claims.name })
          .setProtectedHeader({ alg: "HS256" })
          .setSubject(claims.participant)
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt(now)
          .setExpirationTime(expiresAt)
          .sign(key)
        return { token, claims: { ...claims, expiresAt } }
      }),
    verify: (token) =>
      Effect.tryPromise({
        try: () => jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"] }),
        catch: (e) => {
          const kind = kindOf(e)
          refused[kind]++
          return new InvalidToken({ reason: e instanceof Error ? e.message : String(e), kind })
        },
      }).pipe(
        Effect.flatMap(({ payload }) =>
          Schema.decodeUnknown(JoinClaims)({
            meeting: payload["mtg"],
            participant: payload.sub,
            name: payload["name"],
            expiresAt: payload.exp,
          }).pipe(
            Effect.mapError((e) => {
              refused.malformed++
              return new InvalidToken({ reason: `claims: ${e.message}`, kind: "malformed" })
            }),
          ),
        ),
      ),
    refused: () => ({ ...refused }),
  }
}

/**
 * @category layers
 */
export const layerHmac = (secret: string | Uint8Array): Layer.Layer<JoinTokens> =>
  Layer.sync(JoinTokens, () => hmac(secret))
