/**
 * The client as a library: a scoped session with the join report, events
 * (who joins and leaves), the team's own media in and out as Streams, and a
 * clean leave when the scope closes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, Scope, Stream } from "effect"
import { Client, Connector, ControlPlane, Lookup, Protocol, Topology, TransportStrategy } from "../../src/index.js"

const world = Layer.mergeAll(Topology.layer(Topology.example), Connector.shared).pipe(Layer.provideMerge(ControlPlane.memoryLayer))

const newMeeting = Effect.gen(function* () {
  const topology = yield* Topology.Running
  const web = topology.web[0]!.url
  const tls = { ca: topology.caCert! }
  const meeting = yield* Lookup.createMeeting(yield* Lookup.dispatcher(tls, Option.none()), new URL(web), { timeoutMs: 5000 })
  return { web, tls, meeting: meeting.id }
})

/** RTP packets carrying `count` numbered payloads on `ssrc`. */
const numbered = (count: number, ssrc: number) =>
  Stream.range(0, count - 1).pipe(
    Stream.map((i) => {
      const packet = Buffer.alloc(Protocol.Rtp.HEADER_SIZE + 4)
      Protocol.Rtp.writeHeader(packet, { payloadType: 111, marker: false, sequence: i, timestamp: i * 960, ssrc })
      packet.writeUInt32BE(0xc0de0000 + i, Protocol.Rtp.HEADER_SIZE)
      return packet as Uint8Array
    }),
    Stream.tap(() => Effect.sleep("5 millis")),
  )

describe("Client as a library", () => {
  it.live("a session tells who joins and leaves; its scope closing is a clean leave", () =>
    Effect.gen(function* () {
      const { web, tls, meeting } = yield* newMeeting
      const ada = yield* Client.join({ web, meeting, name: "Ada", tls, proxy: "none" })
      const seen: Array<Client.SessionEvent> = []
      const twoEvents = yield* Deferred.make<void>()
      yield* ada.events.pipe(
        Stream.runForEach((e) => Effect.suspend(() => (seen.push(e) === 2 ? Deferred.succeed(twoEvents, void 0) : Effect.void))),
        Effect.forkScoped,
      )
      yield* Effect.sleep("50 millis") // the events stream is subscribed
      const bobScope = yield* Scope.make()
      const bob = yield* Client.join({ web, meeting, name: "Bob", tls, proxy: "none" }).pipe(Scope.extend(bobScope))
      expect(bob.mmr).toBe(ada.mmr)
      yield* Scope.close(bobScope, Exit.void)
      yield* Deferred.await(twoEvents).pipe(Effect.timeout("5 seconds"))
      expect(seen.map((e) => e._tag)).toEqual(["ParticipantJoined", "ParticipantLeft"])
      expect(seen.map((e) => ("participant" in e ? e.participant.name : ""))).toEqual(["Bob", "Bob"])
    }).pipe(Effect.scoped, Effect.provide(world), Logger.withMinimumLogLevel(LogLevel.Warning)),
  )

  it.live("the team's own media: packets from a source Stream arrive as a Stream at the other participant, unchanged", () =>
    Effect.gen(function* () {
      const { web, tls, meeting } = yield* newMeeting
      const bob = yield* Client.join({ web, meeting, name: "Bob", tls, proxy: "none", media: { kinds: ["audio"], synthetic: false } })
      const heard = yield* bob.media!.receive("audio").pipe(Stream.take(40), Stream.runCollect, Effect.timeout("10 seconds"), Effect.fork)
      yield* Effect.sleep("50 millis")
      const ada = yield* Client.join({
        web,
        meeting,
        name: "Ada",
        tls,
        proxy: "none",
        media: { kinds: ["audio"], sources: { audio: (ssrc) => numbered(40, ssrc) } },
      })
      const packets = Chunk.toReadonlyArray(yield* Fiber.join(heard))
      expect(packets.map((p) => Protocol.Rtp.ssrc(p))).toEqual(Array(40).fill(ada.ssrcs.audio >>> 0))
      expect(packets.map((p) => p.readUInt32BE(Protocol.Rtp.HEADER_SIZE) - 0xc0de0000)).toEqual([...Array(40).keys()])
      const report = yield* ada.finalReport
      expect(report.media?.find((m) => m.kind === "audio")?.sent).toBe(40)
    }).pipe(Effect.scoped, Effect.provide(world), Logger.withMinimumLogLevel(LogLevel.Warning)),
  )

  it.live("a team's own fallback strategy decides the media transport", () =>
    Effect.gen(function* () {
      const { web, tls, meeting } = yield* newMeeting
      // Worst first: TLS, then TCP, then UDP, each waiting for the one before.
      const worstFirst: TransportStrategy.CustomStrategy = {
        name: "worst-first",
        decide: (candidates, attempts, now, options) =>
          TransportStrategy.decide([...candidates].reverse(), attempts, now, { ...options, strategy: "sequential" }),
      }
      const session = yield* Client.join({ web, meeting, tls, proxy: "none", media: { kinds: ["audio", "video"], strategy: worstFirst } })
      const phase = session.report.phases.find((p) => p.name === "media")!
      expect(phase.chosen).toBe("audio tls, video tls")
      expect(phase.attempts.every((a) => a.target.endsWith("/tls"))).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(world), Logger.withMinimumLogLevel(LogLevel.Warning)),
  )
})
