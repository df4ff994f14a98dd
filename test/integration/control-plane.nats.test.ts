/**
 * The control plane end to end on a real nats-server: the `up` topology in
 * this process, clients connecting to NATS on their own connections, HTTPS
 * to the web lookup.
 */
import { connect } from "@nats-io/transport-node"
import { expect, layer } from "@effect/vitest"
import { Clock, Context, Effect, FastCheck as fc, Layer, Runtime, Schedule } from "effect"
import { fetch, Agent } from "undici"
import * as Client from "../../src/actors/client/Client.js"
import * as ZoneController from "../../src/actors/zone-controller/ZoneController.js"
import { Assign, Probe } from "../../src/protocol/controller.js"
import * as Subjects from "../../src/protocol/subjects.js"
import { JoinTokens, layerHmac } from "../../src/protocol/token.js"
import { MmrLoad } from "../../src/protocol/zone.js"
import * as Topic from "../../src/runtime/Topic.js"
import { layerLeastLoaded } from "../../src/actors/zone-controller/selector.js"
import { ask } from "../../src/runtime/Ask.js"
import type { ControlBus } from "../../src/runtime/ControlBus.js"
import { KeyValue } from "../../src/runtime/KeyValue.js"
import * as TypedBucket from "../../src/runtime/TypedBucket.js"
import { Meeting } from "../../src/protocol/meeting.js"
import * as Connector from "../../src/transports/connector.js"
import { NatsConnection } from "../../src/transports/nats/connection.js"
import * as NatsBus from "../../src/transports/nats/bus.js"
import * as NatsKv from "../../src/transports/nats/kv.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as TestTopology from "../support/topology.js"

const createMeeting = (web: string, ca: string, body: unknown = { topic: "t" }) =>
  Effect.promise(async () => {
    const res = await fetch(`${web}/api/meetings`, {
      method: "POST",
      body: JSON.stringify(body),
      dispatcher: new Agent({ connect: { ca } }),
    })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  })

layer(serverWithClient, { excludeTestServices: true, timeout: "120 seconds" })("control plane on real NATS", (it) => {
  it.scoped("a client joins through lookup, zone selection and MMR selection; a second client gets the same MMR", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones(), [nats.url])
      const meeting = (yield* createMeeting(web, tls.ca)).body["id"] as string

      const ada = yield* Client.join({ web, meeting, name: "Ada", tls, proxy: "none" })
      const grace = yield* Client.join({ web, meeting, name: "Grace", tls, proxy: "none" })

      expect(ada.report.path).toBe("direct")
      expect(ada.report.zone).toMatch(/^(eu-west|us-east)$/)
      expect(ada.report.mmr).toBe(ada.mmr)
      expect(ada.report.phases.map((p) => [p.name, p.outcome])).toEqual([
        ["lookup", "ok"],
        ["zone-selection", "ok"],
        ["mmr-selection", "ok"],
      ])
      const zoneSelection = ada.report.phases[1]!
      expect(zoneSelection.zones?.map((z) => z.zone).sort()).toEqual(["eu-west", "us-east"])
      expect(zoneSelection.attempts.filter((a) => a.action.startsWith("probe")).length).toBe(2 * 2 * 3)

      expect(grace.mmr).toBe(ada.mmr)
      expect(grace.joined.roster.map((p) => p.name).sort()).toEqual(["Ada", "Grace"])
    }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("tells a client about a wrong passcode and an unknown meeting with typed errors carrying the report", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "pw" }), [nats.url])
      const meeting = (yield* createMeeting(web, tls.ca, { topic: "secret", passcode: "open sesame" })).body["id"] as string

      const wrong = yield* Effect.flip(Client.join({ web, meeting, passcode: "nope", tls, proxy: "none" }))
      expect(wrong._tag).toBe("AccessDenied")
      expect(wrong.report.phases.map((p) => [p.name, p.outcome])).toEqual([["lookup", "failed"]])
      const missing = yield* Effect.flip(Client.join({ web, meeting: "10000000001", tls, proxy: "none" }))
      expect(missing._tag).toBe("MeetingNotFound")
      const right = yield* Client.join({ web, meeting, passcode: "open sesame", tls, proxy: "none" })
      expect(right.report.path).toBe("direct")
    }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("keeps joining clients when one of a zone's controllers is killed", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const input = TestTopology.twoZones({
        prefix: "kill",
        zones: [{ ...TestTopology.twoZones().zones[0]!, controllers: [{ id: "c2" }] }],
      })
      const { web, tls, services, config } = yield* TestTopology.start(input, [nats.url])
      // c1 runs on a connection of its own, so it can die alone.
      const own = yield* Layer.build(
        NatsKv.layerFromConnection.pipe(Layer.provideMerge(NatsBus.layer({ servers: nats.url, name: "c1" })), Layer.orDie),
      )
      yield* ZoneController.start({
        zone: "eu-west",
        id: "c1",
        subjects: Subjects.make("kill"),
        buckets: Subjects.buckets("kill"),
        mmrTtl: config.timing.mmrTtl,
        presenceInterval: config.timing.reportInterval,
        presenceTtl: config.timing.presenceTtl,
      }).pipe(Effect.provide(Layer.mergeAll(Layer.succeedContext(own), Layer.succeedContext(services))))

      const meeting = (yield* createMeeting(web, tls.ca)).body["id"] as string
      const before = yield* Client.join({ web, meeting, tls, proxy: "none" })
      const probed = before.report.phases[1]!.attempts.filter((a) => a.target === "eu-west/c1")
      expect(probed.every((a) => a.outcome === "ok")).toBe(true)

      // Kill: the connection drops without a goodbye; the server forgets c1's subscriptions.
      yield* Effect.promise(() => Context.get(own, NatsConnection).close())

      for (let i = 0; i < 5; i++) {
        const after = yield* Client.join({ web, meeting, tls, proxy: "none", zoneSelection: { probeTimeoutMs: 300 } })
        expect(after.mmr).toBe(before.mmr)
        const c1 = after.report.phases[1]!.attempts.filter((a) => a.target === "eu-west/c1")
        expect(c1.every((a) => a.outcome !== "ok")).toBe(true)
      }
    }).pipe(Effect.provide(Connector.nats)),
  )

  it.scoped("answers malformed JSON with a 400 naming the field, and keeps serving", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "badhttp" }), [nats.url])
      const broken = yield* Effect.promise(async () => {
        const res = await fetch(`${web}/api/meetings`, { method: "POST", body: "{\"topic\": ", dispatcher: new Agent({ connect: { ca: tls.ca } }) })
        return { status: res.status, body: await res.json() }
      })
      expect(broken.status).toBe(400)
      expect(broken.body).toMatchObject({ error: { code: "BadRequest", field: "body" } })
      const wrongType = yield* createMeeting(web, tls.ca, { topic: ["not", "a", "string"] })
      expect(wrongType.status).toBe(400)
      expect(wrongType.body).toMatchObject({ error: { field: "topic" } })
      const tooLong = yield* createMeeting(web, tls.ca, { passcode: "x".repeat(100) })
      expect(tooLong.body).toMatchObject({ error: { field: "passcode" } })
      const badId = yield* Effect.promise(async () => {
        const res = await fetch(`${web}/api/meetings/abc/join-info`, { dispatcher: new Agent({ connect: { ca: tls.ca } }) })
        return { status: res.status, body: await res.json() }
      })
      expect(badId).toMatchObject({ status: 400, body: { error: { field: "id" } } })
      expect((yield* createMeeting(web, tls.ca)).status).toBe(201)
    }),
  )

  it.scoped("answers malformed messages on a controller's subjects with DecodeErrors, and keeps serving", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      yield* TestTopology.start(TestTopology.twoZones({ prefix: "badnats" }), [nats.url])
      const raw = yield* Effect.acquireRelease(
        Effect.promise(() => connect({ servers: nats.url })),
        (nc) => Effect.promise(() => nc.close()),
      )
      const s = Subjects.make("badnats")
      const garbage = yield* Effect.promise(() => raw.request(s.controller("eu-west", "c1"), "not json", { timeout: 2000 }))
      expect(garbage.json<{ error: { _tag: string } }>().error._tag).toBe("DecodeError")
      const badAssign = yield* Effect.promise(() =>
        raw.request(s.zoneAssign("eu-west"), JSON.stringify({ _tag: "Assign", meeting: 42, token: "t" }), { timeout: 2000 }),
      )
      expect(badAssign.json<{ error: { issue: string } }>().error.issue).toMatch(/meeting/)
      const forged = yield* ask(s.zoneAssign("eu-west"), new Assign({ meeting: "1234567890", token: "forged" }), {}).pipe(Effect.flip)
      expect(forged._tag).toBe("InvalidToken")
      expect(yield* ask(s.controller("eu-west", "c1"), new Probe({ client: "x", sample: 0 }))).toEqual({
        controller: "c1",
        zone: "eu-west",
        sample: 0,
      })
    }),
  )

  it.scoped("places no new meeting on an MMR that stopped reporting, once its TTL has passed", () =>
    Effect.gen(function* () {
      const s = Subjects.make("ttl")
      yield* ZoneController.start({
        zone: "z",
        id: "c1",
        subjects: s,
        buckets: Subjects.buckets("ttl"),
        mmrTtl: "400 millis",
      }).pipe(Effect.provide(Layer.mergeAll(layerHmac(TestTopology.TOKEN_SECRET), layerLeastLoaded)))
      const report = (mmr: string, participants: number) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          Topic.publish(s.zoneLoad("z"), MmrLoad, {
            mmr,
            zone: "z",
            subject: s.mmr(mmr),
            meetings: 0,
            participants,
            capacity: 1000,
            cpu: 0,
            packetsPerSecond: 0,
            draining: false,
            at,
          }),
        )
      // "ghost" is emptier, so it gets meetings while it reports.
      let ghostAlive = true
      yield* Effect.forkScoped(
        Effect.repeat(
          Effect.zipRight(Effect.suspend(() => (ghostAlive ? report("ghost", 0) : Effect.void)), report("steady", 500)),
          Schedule.spaced("100 millis"),
        ),
      )
      const tokens = layerHmac(TestTopology.TOKEN_SECRET)
      const assign = (meeting: string) =>
        Effect.flatMap(Effect.flatMap(JoinTokens, (t) => t.sign({ meeting, participant: "p", name: "p" }, "1 minute")), ({ token }) =>
          ask(s.zoneAssign("z"), new Assign({ meeting, token })),
        ).pipe(Effect.provide(tokens))
      yield* Effect.sleep("250 millis")
      expect((yield* assign("5000000001")).mmr).toBe("ghost")

      ghostAlive = false
      yield* Effect.sleep("600 millis") // past the 400 ms TTL
      expect((yield* assign("5000000002")).mmr).toBe("steady")
      // And the meeting the dead MMR held moves on the next assign.
      expect((yield* assign("5000000001")).mmr).toBe("steady")
    }),
  )

  it.scoped("places one meeting on exactly one MMR however many assigns race across two controllers", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { services } = yield* TestTopology.start(
        TestTopology.twoZones({
          prefix: "race",
          zones: [{ ...TestTopology.twoZones().zones[0]!, mmrs: [{ id: "r1" }, { id: "r2" }, { id: "r3" }] }],
        }),
        [nats.url],
      )
      const tokens = Context.get(services, JoinTokens)
      const meetings = TypedBucket.make(yield* (yield* KeyValue).bucket("race_meetings"), Meeting)
      const s = Subjects.make("race")
      const run = Runtime.runPromise(yield* Effect.runtime<ControlBus>())
      let next = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.integer({ min: 2, max: 16 }), async (n) => {
            const meeting = String(2_000_000_000 + next++)
            const placements = await run(
              Effect.gen(function* () {
                yield* meetings.put(meeting, { id: meeting, topic: "race", createdAt: 0 })
                const { token } = yield* tokens.sign({ meeting, participant: "p", name: "p" }, "1 minute")
                // Half to c1's own subject, half to c2's: both controllers take part.
                return yield* Effect.forEach(
                  Array.from({ length: n }, (_, i) => i),
                  (i) => ask(s.controller("eu-west", i % 2 === 0 ? "c1" : "c2"), new Assign({ meeting, token })),
                  { concurrency: "unbounded" },
                )
              }),
            )
            expect(new Set(placements.map((p) => p.mmr)).size).toBe(1)
            expect(new Set(placements.map((p) => p.placedBy)).size).toBe(1)
          }),
          { numRuns: 15 },
        ),
      )
    }),
  )
})
