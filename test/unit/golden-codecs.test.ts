/**
 * One truth for the media formats: the TypeScript codecs the MMR and the
 * headless client use, and the browser web client's own, are checked
 * against the same golden vectors (bytes in, fields out, and back), computed
 * from the RFCs independently of either (test/golden/media-vectors.json).
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Rtp from "../../src/protocol/rtp.js"
import * as Stun from "../../src/protocol/stun.js"

interface RtpFields {
  readonly payloadType: number
  readonly marker: boolean
  readonly sequence: number
  readonly timestamp: number
  readonly ssrc: number
}
interface Vectors {
  readonly rtp: {
    readonly encode: ReadonlyArray<{ name: string; fields: RtpFields; payload: string; prefix?: string; hex: string }>
    readonly parse: ReadonlyArray<{ name: string; hex: string; fields: RtpFields; payload: string }>
    readonly notRtp: ReadonlyArray<{ name: string; hex: string; rtcp: boolean }>
    readonly stats: ReadonlyArray<{
      name: string
      clockRate: number
      packets: ReadonlyArray<{ sequence: number; timestamp: number; arrivalMs: number }>
      expected: number
      packets_received: number
      loss: number
      jitterMs: number
    }>
  }
  readonly stun: {
    readonly encode: ReadonlyArray<{ name: string; type: number; transactionId: string; username?: string; hex: string }>
    readonly decode: ReadonlyArray<{
      name: string
      hex: string
      type?: number
      transactionId?: string
      error?: { code: number; reason: string }
      mapped?: { address: string; port: number }
      invalid?: boolean
      notStun?: boolean
    }>
  }
}

// The browser's modules are checked JavaScript of their own project (web/tsconfig.json); this says the parts used here.
interface BrowserRtpModule {
  encodeRtp(h: RtpFields, payload: Uint8Array, prefix?: Uint8Array): Uint8Array
  parseRtp(packet: Uint8Array): (RtpFields & { payload: Uint8Array }) | undefined
  SourceStats: new (rate: number) => {
    update(p: RtpFields & { payload: Uint8Array }, bytes: number, arrivalMs: number): void
    readonly packets: number
    readonly expected: number
    readonly loss: number
    readonly jitterMs: number
  }
}
interface BrowserStunModule {
  bindingRequest(tid: Uint8Array, token: string): Uint8Array
  bindingIndication(): Uint8Array
  parse(p: Uint8Array): { type: number; transactionId: Uint8Array; error?: string } | undefined
}
const browserModule = (name: string): Promise<unknown> => import(new URL(`../../web/client/${name}`, import.meta.url).href)
const BrowserRtp = (await browserModule("rtp.js")) as BrowserRtpModule
const BrowserStun = (await browserModule("stun.js")) as BrowserStunModule

const vectors = JSON.parse(readFileSync(new URL("../golden/media-vectors.json", import.meta.url), "utf8")) as Vectors
const bytes = (hex: string) => Buffer.from(hex, "hex")
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

describe("RTP golden vectors", () => {
  for (const v of vectors.rtp.encode) {
    it(`encode: ${v.name}`, () => {
      const prefix = v.prefix === undefined ? new Uint8Array(0) : bytes(v.prefix)
      const ts = new Uint8Array(Rtp.HEADER_SIZE + prefix.length + v.payload.length / 2)
      Rtp.writeHeader(ts, v.fields)
      ts.set(prefix, Rtp.HEADER_SIZE)
      ts.set(bytes(v.payload), Rtp.HEADER_SIZE + prefix.length)
      expect(hex(ts), "TypeScript").toBe(v.hex)
      expect(hex(BrowserRtp.encodeRtp(v.fields, bytes(v.payload), v.prefix === undefined ? undefined : prefix)), "browser").toBe(v.hex)
    })
  }

  for (const v of vectors.rtp.parse) {
    it(`parse: ${v.name}`, () => {
      const packet = bytes(v.hex)
      expect(Rtp.isRtp(packet)).toBe(true)
      expect(Rtp.isRtcp(packet)).toBe(false)
      expect({
        payloadType: Rtp.payloadTypeOf(packet),
        marker: Rtp.marker(packet),
        sequence: Rtp.sequenceNumber(packet),
        timestamp: Rtp.timestamp(packet),
        ssrc: Rtp.ssrc(packet),
      }).toEqual(v.fields)
      const parsed = BrowserRtp.parseRtp(packet)
      expect(parsed, "browser").toBeDefined()
      const { payload, ...fields } = parsed!
      expect(fields).toEqual(v.fields)
      expect(hex(payload)).toBe(v.payload)
    })
  }

  for (const v of vectors.rtp.notRtp) {
    it(`not RTP: ${v.name}`, () => {
      const packet = bytes(v.hex)
      expect(Rtp.isRtp(packet), "TypeScript").toBe(false)
      expect(Rtp.isRtcp(packet)).toBe(v.rtcp)
      expect(BrowserRtp.parseRtp(packet), "browser").toBeUndefined()
    })
  }

  for (const v of vectors.rtp.stats) {
    it(`receiver statistics: ${v.name}`, () => {
      const ts = new Rtp.SourceStats(v.clockRate)
      const browser = new BrowserRtp.SourceStats(v.clockRate)
      for (const p of v.packets) {
        const packet = new Uint8Array(Rtp.HEADER_SIZE + 4)
        Rtp.writeHeader(packet, { payloadType: 111, marker: false, sequence: p.sequence, timestamp: p.timestamp, ssrc: 7 })
        ts.update(packet, p.arrivalMs)
        browser.update(BrowserRtp.parseRtp(packet)!, packet.length, p.arrivalMs)
      }
      for (const [who, s] of [["TypeScript", ts], ["browser", browser]] as const) {
        expect(s.expected, who).toBe(v.expected)
        expect(s.packets, who).toBe(v.packets_received)
        expect(s.loss, who).toBeCloseTo(v.loss, 12)
        expect(s.jitterMs, who).toBeCloseTo(v.jitterMs, 9)
      }
    })
  }
})

describe("STUN golden vectors", () => {
  for (const v of vectors.stun.encode) {
    it(`encode and decode: ${v.name}`, () => {
      const tid = bytes(v.transactionId)
      const ts = v.username !== undefined ? Stun.bindingRequest(tid, v.username) : Stun.bindingIndication(tid)
      expect(hex(ts), "TypeScript").toBe(v.hex)
      if (v.username !== undefined) expect(hex(BrowserStun.bindingRequest(tid, v.username)), "browser").toBe(v.hex)
      else {
        // The browser picks its own transaction id for keepalives: the rest must match, and ours must decode it.
        const browser = BrowserStun.bindingIndication()
        expect(hex(browser.subarray(0, 8))).toBe(v.hex.slice(0, 16))
        expect(Stun.decode(Buffer.from(browser))?.type).toBe(v.type)
      }
      const decoded = Stun.decode(bytes(v.hex))!
      expect(decoded.type).toBe(v.type)
      expect(hex(decoded.transactionId)).toBe(v.transactionId)
      expect(Stun.username(decoded)).toBe(v.username)
      const parsed = BrowserStun.parse(bytes(v.hex))!
      expect(parsed.type).toBe(v.type)
      expect(hex(parsed.transactionId)).toBe(v.transactionId)
    })
  }

  for (const v of vectors.stun.decode) {
    it(`decode: ${v.name}`, () => {
      const packet = bytes(v.hex)
      if (v.notStun === true || v.invalid === true) {
        expect(Stun.decode(packet), "TypeScript").toBeUndefined()
        expect(BrowserStun.parse(packet), "browser").toBeUndefined()
        return
      }
      const decoded = Stun.decode(packet)!
      const parsed = BrowserStun.parse(packet)!
      expect(decoded.type).toBe(v.type)
      expect(parsed.type).toBe(v.type)
      expect(hex(decoded.transactionId)).toBe(v.transactionId)
      expect(hex(parsed.transactionId)).toBe(v.transactionId)
      expect(Stun.errorCode(decoded)).toEqual(v.error)
      expect(parsed.error).toBe(v.error === undefined ? undefined : `${v.error.code} ${v.error.reason}`)
      if (v.mapped !== undefined) expect(Stun.xorMappedAddress(decoded)).toEqual(v.mapped)
    })
  }
})
