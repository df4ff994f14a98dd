/**
 * NATS with meetzone's auth on, against a real nats-server in operator mode:
 * anonymous connections are refused; each role is held to its own subjects
 * and keys; a join's client credentials reach the zones and MMRs of its join
 * and its own meeting's events, and nothing else — every refusal observed as
 * a permission violation, with nothing changed behind it.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import type { NatsConnection, Status } from "@nats-io/transport-node"
import { connect } from "@nats-io/transport-node"
import { Context, Effect, Either, Layer, Option } from "effect"
import * as Permissions from "../../src/protocol/permissions.js"
import * as Subjects from "../../src/protocol/subjects.js"
import * as Auth from "../../src/transports/nats/auth.js"
import { connectScoped } from "../../src/transports/nats/connection.js"
import * as NatsKv from "../../src/transports/nats/kv.js"
import * as NatsServer from "../../src/transports/nats/server.js"
import * as Tls from "../../src/transports/tls.js"
import { createConnection } from "node:net"

const subjects = Subjects.make()
const buckets = Subjects.buckets()
const bytes = (text: string) => new TextEncoder().encode(text)

interface Secured {
  readonly server: NatsServer.NatsServerProcess
  readonly secrets: Auth.Secrets
}
class SecuredNats extends Context.Tag("test/SecuredNats")<SecuredNats, Secured>() {}

const secured = Layer.scoped(
  SecuredNats,
  Effect.gen(function* () {
    const secrets = Auth.generate()
    const trust = yield* Auth.trust(secrets)
    const server = yield* NatsServer.start({ auth: Auth.serverConfig(trust) })
    return { server, secrets }
  }).pipe(Effect.orDie),
)

/** A connection with `permissions`, and the permission violations the server reports on it. */
const connectAs = (signer: "actor" | "client", name: string, permissions: Permissions.Permissions, inboxPrefix: string, expiresAt?: number) =>
  Effect.gen(function* () {
    const { server, secrets } = yield* SecuredNats
    const creds = yield* Auth.userCreds(yield* Auth.signer(secrets, signer), { name, permissions, ...(expiresAt !== undefined ? { expiresAt } : {}) })
    const nc = yield* connectScoped({ servers: server.url, creds, inboxPrefix, maxReconnectAttempts: 0 })
    const violations: Array<string> = []
    void (async () => {
      for await (const s of nc.status() as AsyncIterable<Status>) {
        if (s.type === "error") violations.push(String((s as { error: Error }).error.message))
      }
    })()
    return { nc, violations, kv: NatsKv.make(nc) }
  })

const actor = (role: Permissions.Role, id: string, zone?: string) =>
  connectAs("actor", `${role}-${id}`, Permissions.forActor(subjects, buckets, role, id, zone), Permissions.inboxPrefix.actor(role, id))

const client = (participant: string, meeting: string, zones: ReadonlyArray<string>, expiresAt?: number) =>
  connectAs(
    "client",
    `client-${participant}`,
    Permissions.forClient(subjects, { participant, meeting, zones: zones.map((id) => ({ id })) }),
    Permissions.inboxPrefix.client(participant),
    expiresAt,
  )

/** Waits (bounded) until `violations` names `subject`. */
const refused = (violations: ReadonlyArray<string>, subject: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100 && !violations.some((v) => v.includes(`"${subject}"`)); i++) yield* Effect.sleep("20 millis")
    return violations.some((v) => v.includes(`"${subject}"`))
  })

/** Messages that arrive on `subject` for a while (a listener with full rights). */
const listen = (nc: NatsConnection, subject: string) => {
  const got: Array<string> = []
  nc.subscribe(subject, { callback: (_e, m) => void got.push(m.subject) })
  return got
}

layer(secured, { excludeTestServices: true, timeout: "60 seconds" })("NATS auth on a real nats-server", (it) => {
  it.effect("refuses anonymous connections", () =>
    Effect.gen(function* () {
      const { server } = yield* SecuredNats
      const anonymous = yield* Effect.either(Effect.tryPromise(() => connect({ servers: server.url, reconnect: false })))
      expect(Either.isLeft(anonymous)).toBe(true)
      expect(String(Either.isLeft(anonymous) && (anonymous.left.cause as Error).message)).toMatch(/Authorization Violation/)
    }),
  )

  it.scoped("holds each role to its own keys: an MMR cannot write placements or another MMR's presence, a tunnel cannot write meetings", () =>
    Effect.gen(function* () {
      const web = yield* actor("web", "w1")
      const controller = yield* actor("controller", "c1", "eu")
      const mmr = yield* actor("mmr", "m1", "eu")
      const tunnel = yield* actor("tunnel", "t1")

      const meetings = yield* web.kv.bucket(buckets.meetings)
      yield* meetings.put("1000000001", bytes("the meeting"))
      const placements = yield* controller.kv.bucket(buckets.placements)
      yield* placements.create("1000000001", bytes("m1"))
      const presence = yield* controller.kv.bucket(buckets.presence, { ttl: "10 seconds" })
      yield* presence.put("controller.eu.c1", bytes("here"))

      // The MMR renews its own presence and reads placements, and can do nothing else with them.
      const mmrPresence = yield* mmr.kv.bucket(buckets.presence, { ttl: "10 seconds" })
      yield* mmrPresence.put("mmr.eu.m1", bytes("here"))
      const mmrPlacements = yield* mmr.kv.bucket(buckets.placements)
      expect(Option.isSome(yield* mmrPlacements.get("1000000001"))).toBe(true)
      expect(Either.isLeft(yield* Effect.either(mmrPlacements.put("1000000001", bytes("stolen"))))).toBe(true)
      expect(yield* refused(mmr.violations, "$KV.mz_placements.1000000001")).toBe(true)
      expect(Either.isLeft(yield* Effect.either(mmrPresence.put("mmr.eu.m2", bytes("forged"))))).toBe(true)
      expect(Either.isLeft(yield* Effect.either(mmrPresence.put("controller.eu.c1", bytes("forged"))))).toBe(true)

      // The tunnel cannot even open the meetings bucket.
      expect(Either.isLeft(yield* Effect.either(Effect.flatMap(tunnel.kv.bucket(buckets.meetings), (b) => b.put("1000000001", bytes("x")))))).toBe(true)
      expect(yield* refused(tunnel.violations, "$JS.API.STREAM.INFO.KV_mz_meetings")).toBe(true)
      // A controller cannot write meetings, nor another controller's presence.
      expect(Either.isLeft(yield* Effect.either(Effect.flatMap(controller.kv.bucket(buckets.meetings), (b) => b.put("1000000001", bytes("x")))))).toBe(true)
      expect(Either.isLeft(yield* Effect.either(presence.put("controller.eu.c2", bytes("x"))))).toBe(true)

      // Nothing changed behind the refusals.
      expect(new TextDecoder().decode(Option.getOrThrow(yield* placements.get("1000000001")).value)).toBe("m1")
      expect(new TextDecoder().decode(Option.getOrThrow(yield* meetings.get("1000000001")).value)).toBe("the meeting")
      expect(Option.isNone(yield* presence.get("mmr.eu.m2"))).toBe(true)
    }),
  )

  it.scoped("a join's credentials reach its zones' controllers, MMRs and its own inbox and meeting, and are refused everywhere else", () =>
    Effect.gen(function* () {
      const mmr = yield* actor("mmr", "m1", "eu")
      const controller = yield* actor("controller", "c1", "eu")
      // Listeners with full rights on the subjects the client must not reach: nothing may arrive.
      const admin = yield* connectAs("actor", "admin", { publish: [">"], subscribe: [">"], respond: true }, "_I.admin")
      const drained = listen(admin.nc, subjects.mmrAdmin("m1"))
      const viewed = listen(admin.nc, subjects.mmrView("m1"))
      const loads = listen(admin.nc, subjects.zoneLoad("eu"))
      const other = listen(admin.nc, subjects.meetingRoster("1000000002"))
      yield* Effect.promise(() => admin.nc.flush())

      const ada = yield* client("ada", "1000000001", ["eu"])
      // What it may do: ask its zone's controllers and MMRs, hear its own meeting.
      mmr.nc.subscribe(subjects.mmr("m1"), { callback: (_e, m) => void m.respond(bytes("joined")) })
      controller.nc.subscribe(subjects.zoneAssign("eu"), { callback: (_e, m) => void m.respond(bytes("placed")) })
      yield* Effect.promise(() => Promise.all([mmr.nc.flush(), controller.nc.flush()]))
      const joined = yield* Effect.promise(() => ada.nc.request(subjects.mmr("m1"), bytes("Join"), { timeout: 2000 }))
      expect(new TextDecoder().decode(joined.data)).toBe("joined")
      const placed = yield* Effect.promise(() => ada.nc.request(subjects.zoneAssign("eu"), bytes("Assign"), { timeout: 2000 }))
      expect(new TextDecoder().decode(placed.data)).toBe("placed")
      const own: Array<string> = []
      ada.nc.subscribe(subjects.meetingRoster("1000000001"), { callback: (_e, m) => void own.push(m.subject) })
      yield* Effect.promise(() => ada.nc.flush())
      mmr.nc.publish(subjects.meetingRoster("1000000001"), bytes("roster"))
      for (let i = 0; i < 50 && own.length === 0; i++) yield* Effect.sleep("20 millis")
      expect(own).toEqual([subjects.meetingRoster("1000000001")])
      expect(ada.violations).toEqual([])

      // Every bucket: not even opened.
      for (const bucket of [buckets.meetings, buckets.placements, buckets.presence]) {
        const before = ada.violations.length
        expect(Either.isLeft(yield* Effect.either(ada.kv.bucket(bucket))), bucket).toBe(true)
        expect(ada.violations.slice(before).some((v) => v.includes("$JS.API.")), `${bucket}: ${ada.violations.slice(before)}`).toBe(true)
      }
      // Writing keys directly, JetStream's API, load reports, presence, Drain, another zone.
      for (const subject of [
        "$KV.mz_placements.1000000001",
        "$KV.mz_meetings.1000000001",
        "$KV.mz_presence.mmr.eu.m9",
        "$JS.API.INFO",
        "$JS.API.STREAM.LIST",
        subjects.zoneLoad("eu"),
        subjects.mmrAdmin("m1"),
        subjects.mmrView("m1"),
        subjects.zoneAssign("us"),
        subjects.meetingRoster("1000000002"),
      ]) {
        ada.nc.publish(subject, bytes("forged"))
        expect(yield* refused(ada.violations, subject), subject).toBe(true)
      }
      // Reading what is not its own: everything, every inbox, another participant's, another meeting's events.
      for (const subject of [">", "_INBOX.>", "_I.>", `${Permissions.inboxPrefix.client("grace")}.>`, subjects.meetingRoster("1000000002"), subjects.zoneLoad("eu")]) {
        ada.nc.subscribe(subject, { callback: () => {} })
        expect(yield* refused(ada.violations, subject), subject).toBe(true)
      }
      yield* Effect.promise(() => admin.nc.flush())
      expect({ drained, viewed, loads, other }).toEqual({ drained: [], viewed: [], loads: [], other: [] })
    }),
  )

  it.scoped("the web tier may ask an MMR what it hosts (the dashboard) and cannot drain it", () =>
    Effect.gen(function* () {
      const web = yield* actor("web", "w1")
      const mmr = yield* actor("mmr", "m1", "eu")
      const admin = yield* connectAs("actor", "admin", { publish: [">"], subscribe: [">"], respond: true }, "_I.admin")
      const drained = listen(admin.nc, subjects.mmrAdmin("m1"))
      mmr.nc.subscribe(subjects.mmrView("m1"), { callback: (_e, m) => void m.respond(bytes("hosting")) })
      yield* Effect.promise(() => Promise.all([mmr.nc.flush(), admin.nc.flush()]))
      const answer = yield* Effect.promise(() => web.nc.request(subjects.mmrView("m1"), bytes("HostedMeetings"), { timeout: 2000 }))
      expect(new TextDecoder().decode(answer.data)).toBe("hosting")
      web.nc.publish(subjects.mmrAdmin("m1"), bytes("Drain"))
      expect(yield* refused(web.violations, subjects.mmrAdmin("m1"))).toBe(true)
      yield* Effect.promise(() => admin.nc.flush())
      expect(drained).toEqual([])
    }),
  )

  it.scoped("expired client credentials are refused", () =>
    Effect.gen(function* () {
      const { server, secrets } = yield* SecuredNats
      const creds = yield* Auth.userCreds(yield* Auth.signer(secrets, "client"), {
        name: "late",
        permissions: Permissions.forClient(subjects, { participant: "late", meeting: "1000000001", zones: [{ id: "eu" }] }),
        expiresAt: Math.floor(Date.now() / 1000) - 10,
      })
      const attempt = yield* Effect.either(connectScoped({ servers: server.url, creds, maxReconnectAttempts: 0, connectTimeoutMs: 2000 }))
      expect(Either.isLeft(attempt)).toBe(true)
      expect(Either.isLeft(attempt) && attempt.left.detail).toMatch(/Authorization Violation|expired/i)
    }),
  )
})

describe("NATS over TLS only", () => {
  it.scoped("the server takes TLS only (its INFO says so before anything else), and a client trusting its CA connects", () =>
    Effect.gen(function* () {
      const ca = yield* Tls.devCa("test NATS CA")
      const secrets = Auth.generate()
      const server = yield* NatsServer.start({ auth: Auth.serverConfig(yield* Auth.trust(secrets)), tls: yield* ca.issue(["127.0.0.1", "localhost"]) })
      const info = yield* Effect.async<string>((resume) => {
        const socket = createConnection(server.port, "127.0.0.1")
        socket.once("data", (d) => {
          socket.destroy()
          resume(Effect.succeed(d.toString()))
        })
      })
      expect(info).toMatch(/"tls_required":true/)
      const creds = yield* Auth.userCreds(yield* Auth.signer(secrets, "actor"), { name: "t", permissions: Permissions.operator })
      const nc = yield* connectScoped({ servers: server.url, creds, tls: { ca: ca.cert }, maxReconnectAttempts: 0 })
      expect(nc.info?.tls_required).toBe(true)
      // Without the CA, the server's certificate is not trusted: no connection.
      expect(Either.isLeft(yield* Effect.either(connectScoped({ servers: server.url, creds, maxReconnectAttempts: 0, connectTimeoutMs: 2000 })))).toBe(true)
    }).pipe(Effect.orDie),
  )
})

describe("permissions, without a server", () => {
  it("an actor's inbox and a client's are each their own", () => {
    const mmr = Permissions.forActor(subjects, buckets, "mmr", "m1", "eu")
    expect(Permissions.allows(mmr.subscribe, "_I.mmr.m1.abc")).toBe(true)
    expect(Permissions.allows(mmr.subscribe, "_I.mmr.m2.abc")).toBe(false)
    expect(Permissions.allows(mmr.subscribe, "_INBOX.abc")).toBe(false)
  })
})
