/**
 * The request frame: timeout and correlation id in front of the request's
 * JSON. Whatever bytes arrive, reading them returns the parts or says why
 * not; it never throws.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as RequestFrame from "../../src/protocol/request-frame.js"

const text = (b: Uint8Array) => Buffer.from(b).toString("utf8")

describe("request frame", () => {
  it("carries the timeout, the correlation id and the JSON, whatever they hold", () => {
    fc.assert(
      fc.property(fc.json(), fc.option(fc.integer({ min: 1, max: 0xffff_ffff }), { nil: undefined }), fc.option(fc.string({ unit: "grapheme", maxLength: 80 }), { nil: undefined }), (json, timeoutMs, correlationId) => {
        const frame = RequestFrame.decode(RequestFrame.encode(json, timeoutMs, correlationId))
        if (typeof frame === "string") return false
        expect(frame.timeoutMs).toBe(timeoutMs)
        expect(frame.correlationId).toBe(correlationId === "" ? undefined : correlationId)
        expect(text(frame.body)).toBe(json)
        return true
      }),
    )
  })

  it("cuts a long correlation id on a character, not inside one", () => {
    const id = "é".repeat(200) // 400 bytes
    const frame = RequestFrame.decode(RequestFrame.encode("{}", 100, id))
    expect(typeof frame !== "string" && frame.correlationId).toBe("é".repeat(127))
  })

  it("reads a bare JSON request as the body alone", () => {
    const bare = Buffer.from('{"_tag":"Echo"}')
    expect(RequestFrame.decode(bare)).toEqual({ timeoutMs: undefined, correlationId: undefined, body: bare })
  })

  it("never throws on arbitrary bytes: a malformed frame is a reason", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const framed = Uint8Array.of(RequestFrame.VERSION, ...bytes)
        const read = RequestFrame.decode(framed)
        return typeof read === "string" ? read.startsWith("request frame:") : read.body.length <= bytes.length
      }),
    )
    expect(RequestFrame.decode(Uint8Array.of(1, 0, 0, 0, 0, 2, 0xc3, 0x28))).toBe("request frame: the correlation id is not UTF-8")
    expect(RequestFrame.bodyOf(Uint8Array.of(1, 2))).toBeUndefined()
  })
})
