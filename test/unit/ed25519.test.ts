/**
 * The Node-crypto key pairs sign and name keys exactly as nkeys does: the
 * same signature for the same seed and message, the same public key, a seed
 * nkeys reads back.
 */
import { createAccount, createUser, fromSeed } from "@nats-io/nkeys"
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Ed25519 from "../../src/transports/nats/ed25519.js"

describe("Ed25519 with Node's crypto for nkeys", () => {
  it.prop("signs as nkeys does, for any message", [fc.uint8Array({ maxLength: 512 })], ([message]) => {
    const reference = createAccount()
    const ours = Ed25519.fromNkeysSeed(reference.getSeed())
    expect(ours.getPublicKey()).toBe(reference.getPublicKey())
    expect(Buffer.from(ours.sign(message)).toString("hex")).toBe(Buffer.from(reference.sign(message)).toString("hex"))
    expect(reference.verify(message, ours.sign(message))).toBe(true)
  }, { fastCheck: { numRuns: 25 } })

  it("makes user keys whose seed nkeys reads back to the same public key", () => {
    for (let i = 0; i < 10; i++) {
      const user = Ed25519.newUser()
      expect(user.getPublicKey()).toMatch(/^U[A-Z2-7]{55}$/)
      expect(fromSeed(user.getSeed()).getPublicKey()).toBe(user.getPublicKey())
    }
    expect(Ed25519.fromNkeysSeed(createUser().getSeed()).getPublicKey()).toMatch(/^U/)
  })
})
