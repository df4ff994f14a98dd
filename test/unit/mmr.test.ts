/**
 * The MMR's control side on the in-process bus and store: who it admits,
 * what it reports, and how it stops.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Scope, Stream, TestClock } from "effect"
import * as Mmr from "../../src/actors/mmr/Mmr.js"
import * as Stores from "../../src/actors/stores.js"
import type { Placement } from "../../src/protocol/meeting.js"
import { Drain, Join, Leave, MediaStats, MediaTokens, Roster, RosterEvent } from "../../src/protocol/mmr.js"
import * as Subjects from "../../src/protocol/subjects.js"
import { JoinTokens, layerHmac } from "../../src/protocol/token.js"
import { MmrLoad } from "../../src/protocol/zone.js"
import { ask } from "../../src/runtime/Ask.js"
import * as Topic from "../../src/runtime/Topic.js"
import * as MemoryBus from "../../src/transports/memory/bus.js"
import * as MemoryKv from "../../src/transports/memory/kv.js"

const subjects = Subjects.make("t")
const buckets = Subjects.buckets("t")
const services = Layer.mergeAll(MemoryBus.layer, MemoryKv.layer, layerHmac("y".repeat(32)))

const place = (meeting: string, mmr: string) =>
  Effect.gen(function* () {
    const stores = yield* Stores.open({ buckets })
    const placement: Placement = { meeting, zone: "eu", mmr, subject: subjects.mmr(mmr), placedBy: "test", at: 0 }
    yield* stores.placements.put(meeting, placement)
  })

const token = (meeting: string, participant: string, name = participant) =>
  Effect.flatMap(JoinTokens, (t) => Effect.map(t.sign({ meeting, participant, name }, "1 minute"), (s) => s.token))

/** Each test participant's session secret: the same on every join, as one client's would be. */
const sessionOf = (participant: string) => `session-of-${participant}-0123456789`

const joinAs = (mmr: string, meeting: string, participant: string) =>
  Effect.flatMap(token(meeting, participant), (t) => ask(subjects.mmr(mmr), new Join({ token: t, session: sessionOf(participant) })))

const leaveAs = (mmr: string, meeting: string, participant: string) =>
  Effect.flatMap(token(meeting, participant), (t) => ask(subjects.mmr(mmr), new Leave({ meeting, participant, token: t, session: sessionOf(participant) })))

const startMmr = (id: string, capacity = 100, drainGrace: Duration.DurationInput = 0) =>
  Mmr.start({ id, zone: "eu", capacity, subjects, buckets, reportInterval: "50 millis", drainGrace })

describe("MMR control", () => {
  it.scoped("admits participants of meetings placed on it, with the roster", () =>
    Effect.gen(function* () {
      yield* startMmr("m1")
      yield* place("1000000001", "m1")
      yield* joinAs("m1", "1000000001", "ada")
      const joined = yield* joinAs("m1", "1000000001", "grace")
      expect(joined).toMatchObject({ participant: "grace", meeting: "1000000001", mmr: "m1", zone: "eu" })
      expect(joined.roster.map((p) => p.id).sort()).toEqual(["ada", "grace"])
    }).pipe(Effect.provide(services)),
  )

  it.scoped("refuses a meeting placed elsewhere, or nowhere, naming the host", () =>
    Effect.gen(function* () {
      yield* startMmr("m1")
      yield* place("1000000002", "m2")
      expect(yield* Effect.flip(joinAs("m1", "1000000002", "ada"))).toMatchObject({
        _tag: "NotHostedHere",
        hostedBy: "m2",
      })
      const nowhere = yield* Effect.flip(joinAs("m1", "1000000003", "ada"))
      expect(nowhere._tag).toBe("NotHostedHere")
      expect("hostedBy" in nowhere ? nowhere.hostedBy : undefined).toBeUndefined()
    }).pipe(Effect.provide(services)),
  )

  it.scoped("refuses a forged token", () =>
    Effect.gen(function* () {
      yield* startMmr("m1")
      const forged = yield* Effect.flip(ask(subjects.mmr("m1"), new Join({ token: "eyJhbGciOiJIUzI1NiJ9.e30.x", session: sessionOf("x") })))
      expect(forged._tag).toBe("InvalidToken")
    }).pipe(Effect.provide(services)),
  )

  it.scoped("answers MediaStats with zeros for a participant without media here (no media plane, or gone), every kind present; refuses MediaTokens without a media plane", () =>
    Effect.gen(function* () {
      yield* startMmr("m1")
      yield* place("1000000011", "m1")
      yield* joinAs("m1", "1000000011", "ada")
      const t = yield* token("1000000011", "ada")
      for (const participant of ["ada", "ada"]) {
        const stats = yield* ask(subjects.mmr("m1"), new MediaStats({ meeting: "1000000011", participant, token: t }))
        expect(Object.keys(stats).sort()).toEqual(["audio", "content", "video"])
        expect(stats.video.packetsIn).toBe(0)
      }
      // A copied token without the session secret its Join bound gets no tokens.
      const copied = yield* Effect.flip(ask(subjects.mmr("m1"), new MediaTokens({ meeting: "1000000011", token: t, session: sessionOf("mallory") })))
      expect(copied._tag).toBe("SessionTaken")
      // Once gone, still an answer (not a restart of the actor that loses its mailbox).
      yield* leaveAs("m1", "1000000011", "ada")
      expect((yield* ask(subjects.mmr("m1"), new MediaStats({ meeting: "1000000011", participant: "ada", token: t }))).audio.packetsIn).toBe(0)
      const tokens = yield* Effect.flip(ask(subjects.mmr("m1"), new MediaTokens({ meeting: "1000000011", token: t, session: sessionOf("ada") })))
      expect(tokens._tag).toBe("NotHostedHere")
    }).pipe(Effect.provide(services)),
  )

  it.scoped("takes Leave, Roster and MediaStats only with a join token of that meeting and participant", () =>
    Effect.gen(function* () {
      yield* startMmr("m1")
      yield* place("1000000009", "m1")
      yield* joinAs("m1", "1000000009", "ada")
      yield* joinAs("m1", "1000000009", "grace")
      const graces = yield* token("1000000009", "grace")
      const otherMeeting = yield* token("1000000010", "ada")
      // Grace's token cannot make Ada leave, nor can a token of another meeting read this roster.
      expect(yield* Effect.flip(ask(subjects.mmr("m1"), new Leave({ meeting: "1000000009", participant: "ada", token: graces, session: sessionOf("grace") })))).toMatchObject({ _tag: "InvalidToken" })
      expect(yield* Effect.flip(ask(subjects.mmr("m1"), new Roster({ meeting: "1000000009", token: otherMeeting })))).toMatchObject({ _tag: "InvalidToken" })
      expect(yield* Effect.flip(ask(subjects.mmr("m1"), new MediaStats({ meeting: "1000000009", participant: "ada", token: graces })))).toMatchObject({ _tag: "InvalidToken" })
      expect(yield* Effect.flip(ask(subjects.mmr("m1"), new Roster({ meeting: "1000000009", token: "forged" })))).toMatchObject({ _tag: "InvalidToken" })
      // Nothing changed: both are still in; with her own token, Grace leaves.
      expect((yield* ask(subjects.mmr("m1"), new Roster({ meeting: "1000000009", token: graces }))).map((p) => p.id).sort()).toEqual(["ada", "grace"])
      yield* ask(subjects.mmr("m1"), new Leave({ meeting: "1000000009", participant: "grace", token: graces, session: sessionOf("grace") }))
      expect((yield* ask(subjects.mmr("m1"), new Roster({ meeting: "1000000009", token: graces }))).map((p) => p.id)).toEqual(["ada"])
    }).pipe(Effect.provide(services)),
  )

  it.scoped("binds a participant's session to its secret: a copied token can neither take it over nor make it leave", () =>
    Effect.gen(function* () {
      const mmr = yield* startMmr("m1")
      yield* place("1000000011", "m1")
      yield* joinAs("m1", "1000000011", "ada")
      const copied = yield* token("1000000011", "ada")
      const thief = "a-thief-with-a-copied-token"
      expect(yield* Effect.flip(ask(subjects.mmr("m1"), new Join({ token: copied, session: thief })))).toMatchObject({ _tag: "SessionTaken", participant: "ada" })
      expect(yield* Effect.flip(ask(subjects.mmr("m1"), new Leave({ meeting: "1000000011", participant: "ada", token: copied, session: thief })))).toMatchObject({ _tag: "SessionTaken" })
      expect(mmr.sessionsRefused()).toBe(2)
      // Ada herself re-joins (her secret) and is still the one in the meeting.
      expect((yield* joinAs("m1", "1000000011", "ada")).roster.map((p) => p.id)).toEqual(["ada"])
      expect((yield* mmr.meetings).get("1000000011")?.map((p) => p.id)).toEqual(["ada"])
    }).pipe(Effect.provide(services)),
  )

  it.scoped("serves Joins concurrently, yet of two racing Joins of one participant with different secrets exactly one gets in", () =>
    Effect.gen(function* () {
      const mmr = yield* startMmr("m1")
      yield* place("1000000012", "m1")
      const t = yield* token("1000000012", "ada")
      const [first, second] = yield* Effect.all(
        [
          Effect.either(ask(subjects.mmr("m1"), new Join({ token: t, session: "the-real-ada-session-secret" }))),
          Effect.either(ask(subjects.mmr("m1"), new Join({ token: t, session: "a-thief-racing-the-first-join" }))),
        ],
        { concurrency: "unbounded" },
      )
      expect([first._tag, second._tag].sort()).toEqual(["Left", "Right"])
      const refused = first._tag === "Left" ? first.left : (second as { left: { _tag: string } }).left
      expect(refused._tag).toBe("SessionTaken")
      expect((yield* mmr.meetings).get("1000000012")?.map((p) => p.id)).toEqual(["ada"])
      // Many participants at once all get in.
      const many = yield* Effect.all(Array.from({ length: 20 }, (_, i) => joinAs("m1", "1000000012", `p${i}`)), { concurrency: "unbounded" })
      expect(many).toHaveLength(20)
      expect((yield* mmr.meetings).get("1000000012")).toHaveLength(21)
    }).pipe(Effect.provide(services)),
  )

  it.scoped("a Join refused (placed elsewhere) leaves no session bound: the participant's own Join later is not taken", () =>
    Effect.gen(function* () {
      yield* startMmr("m1")
      yield* place("1000000013", "m2")
      const t = yield* token("1000000013", "bob")
      expect(yield* Effect.flip(ask(subjects.mmr("m1"), new Join({ token: t, session: "whoever-came-first-secret" })))).toMatchObject({ _tag: "NotHostedHere" })
      yield* place("1000000013", "m1")
      expect((yield* joinAs("m1", "1000000013", "bob")).roster.map((p) => p.id)).toEqual(["bob"])
    }).pipe(Effect.provide(services)),
  )

  it.scoped("is full at capacity, but lets a participant already in rejoin", () =>
    Effect.gen(function* () {
      yield* startMmr("m1", 2)
      yield* place("1000000004", "m1")
      yield* joinAs("m1", "1000000004", "a")
      yield* joinAs("m1", "1000000004", "b")
      expect(yield* Effect.flip(joinAs("m1", "1000000004", "c"))).toMatchObject({ _tag: "MmrFull", capacity: 2 })
      expect((yield* joinAs("m1", "1000000004", "a")).roster).toHaveLength(2)
      yield* leaveAs("m1", "1000000004", "b")
      yield* joinAs("m1", "1000000004", "c")
    }).pipe(Effect.provide(services)),
  )

  it.scoped("forgets a meeting when its last participant leaves", () =>
    Effect.gen(function* () {
      const mmr = yield* startMmr("m1")
      yield* place("1000000005", "m1")
      yield* joinAs("m1", "1000000005", "a")
      expect((yield* mmr.meetings).size).toBe(1)
      yield* leaveAs("m1", "1000000005", "a")
      expect(yield* ask(subjects.mmr("m1"), new Roster({ meeting: "1000000005", token: yield* token("1000000005", "z") }))).toEqual([])
      expect((yield* mmr.meetings).size).toBe(0)
    }).pipe(Effect.provide(services)),
  )

  it.scoped("reports its load, says at once when it drains, and on stop says draining and leaves presence", () =>
    Effect.gen(function* () {
      const reports = yield* Topic.subscribe(subjects.zoneLoad("eu"), MmrLoad)
      const seen: Array<MmrLoad> = []
      yield* reports.messages.pipe(
        Stream.runForEach((l) => Effect.sync(() => void seen.push(l))),
        Effect.forkScoped,
      )
      const stores = yield* Stores.open({ buckets })
      const key = Subjects.presenceKey.mmr("eu", "m7")
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* startMmr("m7")
          yield* place("1000000006", "m7")
          yield* joinAs("m7", "1000000006", "a")
          yield* TestClock.adjust("120 millis") // two more reports
          yield* Effect.repeatN(Effect.yieldNow(), 50)
          expect(seen.some((l) => l.participants === 1 && l.meetings === 1 && !l.draining)).toBe(true)
          // Drain is an operator's request: the client subject does not take it, the admin subject does.
          const onClientSubject = yield* Effect.either(ask(subjects.mmr("m7"), new Drain({ draining: true })))
          expect(onClientSubject._tag === "Left" && onClientSubject.left._tag).toBe("DecodeError")
          expect(yield* ask(subjects.mmrAdmin("m7"), new Drain({ draining: true }))).toEqual({
            mmr: "m7",
            draining: true,
            meetings: 1,
          })
          const presence = Option.getOrThrow(yield* stores.presence.get(key))
          expect(presence.value).toMatchObject({ kind: "mmr", load: { draining: true, participants: 1, meetings: 1 } })
        }),
      )
      expect(Option.isNone(yield* stores.presence.get(key))).toBe(true)
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      expect(seen.at(-1)).toMatchObject({ mmr: "m7", draining: true })
    }).pipe(Effect.provide(services)),
  )

  it.scoped("stopping with a meeting on it: says leaving, waits for its participants to move, at most drainGrace", () =>
    Effect.gen(function* () {
      const stop = (moved: boolean) =>
        Effect.gen(function* () {
          const events = yield* Topic.subscribe(subjects.meetingRoster("1000000007"), RosterEvent)
          const leavingSaid = yield* Deferred.make<RosterEvent>()
          yield* events.messages.pipe(
            Stream.filter((e) => e.leaving === true),
            Stream.runForEach((e) => Deferred.succeed(leavingSaid, e)),
            Effect.forkScoped,
          )
          const scope = yield* Scope.make()
          yield* startMmr("m8", 100, "3 seconds").pipe(Scope.extend(scope))
          yield* place("1000000007", "m8")
          yield* joinAs("m8", "1000000007", "a")
          yield* joinAs("m8", "1000000007", "b")
          const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
          expect(yield* Deferred.await(leavingSaid)).toMatchObject({ mmr: "m8", leaving: true })
          // Still answering while it drains: the moving participants' Leave.
          if (moved) {
            yield* leaveAs("m8", "1000000007", "a")
            yield* leaveAs("m8", "1000000007", "b")
          }
          // Virtual time the stop takes, in 100 ms steps (bounded).
          let waited = 0
          while (Option.isNone(yield* Fiber.poll(closing)) && waited < 10_000) {
            yield* TestClock.adjust("100 millis")
            waited += 100
          }
          yield* Fiber.join(closing)
          return waited
        })
      // Everyone moved → stops at once; nobody moved → stops after the grace.
      expect(yield* stop(true)).toBeLessThan(3000)
      expect(yield* stop(false)).toBe(3000)
    }).pipe(Effect.provide(services)),
  )
})
