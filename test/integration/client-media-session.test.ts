/**
 * The client's side of consent checks, keepalives and silence, against a
 * real UDP peer: the client checks consent every `consentMs` and knows how
 * long media has gone unanswered (mute); with consent off it sends keepalives
 * while it has nothing else to say; and it closes a connection once it has
 * heard nothing for the silence time.
 */
import { createSocket } from "node:dgram"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as MediaSession from "../../src/actors/client/media-session.js"
import * as Stun from "../../src/protocol/stun.js"
import { openUdp } from "../../src/transports/media/client.js"

/** A UDP peer that hears everything; it answers consent checks while `answering` says so. */
const peer = (answering: () => boolean) =>
  Effect.acquireRelease(
    Effect.async<{ readonly socket: ReturnType<typeof createSocket>; readonly heard: Array<Buffer> }>((resume) => {
      const heard: Array<Buffer> = []
      const s = createSocket("udp4")
      s.on("message", (m, from) => {
        heard.push(m)
        const stun = Stun.decode(m)
        if (answering() && stun?.type === Stun.Type.BindingRequest && Stun.username(stun) === undefined) {
          s.send(Stun.bindingSuccess(stun.transactionId, from.address, from.port), from.port, from.address)
        }
      })
      s.bind(0, "127.0.0.1", () => resume(Effect.succeed({ socket: s, heard })))
    }),
    (p) => Effect.sync(() => p.socket.close()),
  )

describe("client media session", () => {
  it.scopedLive("checks consent every consentMs; media is mute for as long as the checks go unanswered, and well again once answered", () =>
    Effect.gen(function* () {
      let answering = true
      const far = yield* peer(() => answering)
      const socket = yield* Effect.promise(() => openUdp({ host: "127.0.0.1", port: far.socket.address().port, dscp: 46 }))
      const session = yield* MediaSession.start([{ kind: "audio", socket, dscp: 46 }], { consentMs: 50, silenceMs: 5000 })

      yield* Effect.sleep("300 millis")
      const checks = far.heard.filter((m) => {
        const s = Stun.decode(m)
        return s?.type === Stun.Type.BindingRequest && Stun.username(s) === undefined
      })
      expect(checks.length).toBeGreaterThanOrEqual(3)
      expect(session.mutedMs()!).toBeLessThan(200)

      answering = false
      yield* Effect.sleep("400 millis")
      expect(session.mutedMs()!).toBeGreaterThanOrEqual(300)

      answering = true
      yield* Effect.sleep("200 millis")
      expect(session.mutedMs()!).toBeLessThan(200)
      expect(session.report(() => undefined)[0]!.status).toBe("open")
    }),
  )

  it.scopedLive("a success that answers no check of ours (another transaction) does not count as consent", () =>
    Effect.gen(function* () {
      const far = yield* peer(() => false)
      const socket = yield* Effect.promise(() => openUdp({ host: "127.0.0.1", port: far.socket.address().port, dscp: 46 }))
      const session = yield* MediaSession.start([{ kind: "audio", socket, dscp: 46 }], { consentMs: 50, silenceMs: 5000 })
      const local = socket.local.split(":")
      const spoof = setInterval(() => far.socket.send(Stun.bindingSuccess(Buffer.alloc(12, 7), "127.0.0.1", 1), Number(local.at(-1)), "127.0.0.1"), 20)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(spoof)))
      yield* Effect.sleep("400 millis")
      expect(session.mutedMs()!).toBeGreaterThanOrEqual(300)
    }),
  )

  it.scopedLive("with consent off, sends keepalives when idle, and closes a connection silent for the configured time", () =>
    Effect.gen(function* () {
      const far = yield* peer(() => false)
      const socket = yield* Effect.promise(() => openUdp({ host: "127.0.0.1", port: far.socket.address().port, dscp: 46 }))
      const session = yield* MediaSession.start([{ kind: "audio", socket, dscp: 46 }], { keepaliveMs: 100, silenceMs: 450, consentMs: 0 })

      yield* Effect.sleep("300 millis")
      expect(session.report(() => undefined)[0]!.status).toBe("open")
      const keepalives = far.heard.filter((m) => Stun.decode(m)?.type === Stun.Type.BindingIndication)
      expect(keepalives.length).toBeGreaterThanOrEqual(2)
      expect(session.mutedMs()).toBeUndefined()

      yield* Effect.sleep("400 millis")
      const [audio] = session.report(() => undefined)
      expect(audio!.status).toMatch(/^closed: silent for \d+ ms$/)
      expect(session.send("audio", Buffer.alloc(20, 0x80))).toBe(false)
    }),
  )
})
