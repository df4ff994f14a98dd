/**
 * The client's side of keepalives and silence: with no MMR behind a socket,
 * the client keeps sending keepalives while it has nothing else to say, and
 * closes the connection once it has heard nothing for the silence time.
 */
import { createSocket } from "node:dgram"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as MediaSession from "../../src/actors/client/media-session.js"
import * as Stun from "../../src/protocol/stun.js"
import { openUdp } from "../../src/transports/media/client.js"

describe("client media session", () => {
  it.scopedLive("sends keepalives when idle, and closes a connection silent for the configured time", () =>
    Effect.gen(function* () {
      // A peer that hears everything and answers nothing.
      const heard: Array<Buffer> = []
      const mute = yield* Effect.acquireRelease(
        Effect.async<ReturnType<typeof createSocket>>((resume) => {
          const s = createSocket("udp4")
          s.on("message", (m) => void heard.push(m))
          s.bind(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.sync(() => s.close()),
      )
      const socket = yield* Effect.promise(() => openUdp({ host: "127.0.0.1", port: mute.address().port, dscp: 46 }))
      const session = yield* MediaSession.start([{ kind: "audio", socket, dscp: 46 }], { keepaliveMs: 100, silenceMs: 450 })

      yield* Effect.sleep("300 millis")
      expect(session.report(() => undefined)[0]!.status).toBe("open")
      const keepalives = heard.filter((m) => Stun.decode(m)?.type === Stun.Type.BindingIndication)
      expect(keepalives.length).toBeGreaterThanOrEqual(2)

      yield* Effect.sleep("400 millis")
      const [audio] = session.report(() => undefined)
      expect(audio!.status).toMatch(/^closed: silent for \d+ ms$/)
      expect(session.send("audio", Buffer.alloc(20, 0x80))).toBe(false)
    }),
  )
})
