/**
 * Join tokens as an attacker meets them: a forged signature, an expired
 * token, garbage and another deployment's token are each refused with a typed
 * InvalidToken saying what was wrong, and counted by kind for operators.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SignJWT } from "jose"
import * as Token from "../../src/protocol/token.js"

const secret = "a-test-secret-a-test-secret-a-test-secret"

describe("join tokens", () => {
  it.effect("refuse forged, expired, malformed and foreign tokens, typed and counted by kind", () =>
    Effect.gen(function* () {
      const tokens = Token.hmac(secret)
      const { token } = yield* tokens.sign({ meeting: "1000000001", participant: "ada", name: "Ada" }, "1 minute")
      expect((yield* tokens.verify(token)).participant).toBe("ada")

      const [header, payload] = token.split(".") as [string, string, string]
      const forged = `${header}.${payload}.${Buffer.alloc(32, 1).toString("base64url")}`
      expect(yield* Effect.flip(tokens.verify(forged))).toMatchObject({ _tag: "InvalidToken", kind: "forged" })
      const foreign = (yield* Token.hmac("another-deployment-secret-another-one").sign({ meeting: "1000000001", participant: "eve", name: "Eve" }, "1 minute")).token
      expect(yield* Effect.flip(tokens.verify(foreign))).toMatchObject({ kind: "forged" })
      expect(yield* Effect.flip(tokens.verify("not a token"))).toMatchObject({ kind: "malformed" })
      // Expired: a token of this deployment whose expiry passed a minute ago.
      const now = Math.floor(Date.now() / 1000)
      const expired = yield* Effect.promise(() =>
        new SignJWT({ mtg: "1000000001", name: "Bob" })
          .setProtectedHeader({ alg: "HS256" })
          .setSubject("bob")
          .setIssuer("meetzone")
          .setAudience("meetzone-join")
          .setIssuedAt(now - 120)
          .setExpirationTime(now - 60)
          .sign(new TextEncoder().encode(secret)),
      )
      expect(yield* Effect.flip(tokens.verify(expired))).toMatchObject({ kind: "expired" })
      expect(tokens.refused?.()).toEqual({ forged: 2, expired: 1, malformed: 1 })
    }),
  )
})
