/**
 * An MMR forgets participants who vanished: silent on control past the TTL
 * and without media. Pure logic over explicit times.
 */
import { describe, expect, it } from "@effect/vitest"
import { ParticipantExpiry } from "../../src/actors/mmr/participant-expiry.js"

describe("participant expiry", () => {
  it("forgets only who is silent on control past the TTL and has no media open", () => {
    const expiry = new ParticipantExpiry(15_000)
    expiry.touch("m", "ada", 0)
    expiry.touch("m", "bob", 0)
    const present = [["m", "ada"], ["m", "bob"], ["m", "cy"]] as const
    const noMedia = () => false
    expect(expiry.expired(15_000, present, noMedia)).toEqual([]) // cy is first seen now; nobody past 15 s yet
    expiry.touch("m", "ada", 14_000) // ada's liveness questions keep coming
    expect(expiry.expired(15_001, present, noMedia)).toEqual([["m", "bob"]])
    // Media open keeps a participant whose control went quiet (a client with liveness off).
    expect(expiry.expired(15_001, present, (_, p) => p === "bob")).toEqual([])
    expiry.touch("m", "ada", 29_000)
    expect(expiry.expired(30_001, present, noMedia)).toEqual([["m", "bob"], ["m", "cy"]])
    expiry.forget("m", "bob")
    expect(expiry.expired(30_002, [["m", "bob"]], noMedia)).toEqual([]) // a re-join starts afresh
  })
})
