/**
 * Who may do what on the bus: the NATS subjects each role may publish and
 * subscribe to, derived from the subject and bucket layout. NATS enforces
 * these lists (user JWT permissions); the actors check each request's
 * authority on top. Pure: subjects in, allow lists out, and a matcher with
 * NATS's wildcard rules so the lists can be checked without a server.
 *
 *   web lookup   meetings and media keys (read, write), presence and placements (read), rosters (the relay's clients'), key epochs (published on the meeting's events), MMRs' read-only view (the dashboard)
 *   controller   its zone's subjects, placements (read, write), its own presence key, presence (read)
 *   MMR          its own subjects, its zone's load reports, its meetings' rosters, its own presence key, placements (read)
 *   tunnel       what its clients may ask (relayed), rosters, its own presence key, presence (read)
 *   client       requests to the zones of its join and to MMRs, its own inbox, its own meeting's roster — nothing else
 *
 * @since 0.1.0
 */
import type { Buckets, Subjects } from "./subjects.js"

/** @category models */
export interface Permissions {
  readonly publish: ReadonlyArray<string>
  readonly subscribe: ReadonlyArray<string>
  /** May answer requests it received (publish to their reply subjects), once each. */
  readonly respond: boolean
}

/** @category models */
export type Role = "web" | "controller" | "mmr" | "tunnel"

/** Per connection: where its replies come back. Each identity gets its own, so none can read another's. @category inboxes */
export const inboxPrefix = {
  actor: (role: Role, id: string) => `_I.${role}.${id}`,
  client: (participant: string) => `_I.c.${participant}`,
} as const

/** The JetStream stream behind a KV bucket. */
const stream = (bucket: string) => `KV_${bucket}`

/** Reading a bucket: info, get (direct and stream get), watching and listing keys (ordered consumers). */
const kvRead = (bucket: string): ReadonlyArray<string> => [
  `$JS.API.STREAM.INFO.${stream(bucket)}`,
  `$JS.API.STREAM.MSG.GET.${stream(bucket)}`,
  `$JS.API.DIRECT.GET.${stream(bucket)}`,
  `$JS.API.DIRECT.GET.${stream(bucket)}.>`,
  `$JS.API.CONSUMER.CREATE.${stream(bucket)}`,
  `$JS.API.CONSUMER.CREATE.${stream(bucket)}.>`,
  `$JS.API.CONSUMER.INFO.${stream(bucket)}.>`,
  `$JS.API.CONSUMER.DELETE.${stream(bucket)}.>`,
  `$JS.FC.${stream(bucket)}.>`,
]

/** Making a bucket (idempotent with the same settings) and writing `keys` in it. */
const kvWrite = (bucket: string, keys = ">"): ReadonlyArray<string> => [
  `$JS.API.STREAM.CREATE.${stream(bucket)}`,
  `$KV.${bucket}.${keys}`,
]

/** Every JetStream client asks for its account's JetStream info first. */
const jetstream = ["$JS.API.INFO"]

/**
 * An actor's permissions: `id` and `zone` are its own (a controller's and an
 * MMR's zone; none for the web lookup and tunnels).
 *
 * @category roles
 */
export const forActor = (subjects: Subjects, buckets: Buckets, role: Role, id: string, zone?: string): Permissions => {
  const inbox = `${inboxPrefix.actor(role, id)}.>`
  /** What clients may ask anywhere, as the relay and the tunnels forward it. */
  const relayed = [`${subjects.prefix}.zone.*.assign`, `${subjects.prefix}.zone.*.controller.*`, subjects.mmr("*")]
  switch (role) {
    case "web":
      return {
        publish: [
          ...jetstream,
          ...kvRead(buckets.meetings),
          ...kvWrite(buckets.meetings),
          // Media keys: only web servers hold them; no other role may read this bucket.
          ...kvRead(buckets.mediaKeys),
          ...kvWrite(buckets.mediaKeys),
          ...kvRead(buckets.presence),
          ...kvRead(buckets.placements),
          // The relay: what clients behind a proxy ask, each request checked against the client's join token first.
          ...relayed,
          // New key epochs, wrapped for each participant, on the meeting's events.
          subjects.meetingRoster("*"),
          // The dashboard's view of who is where: read-only questions, no admin.
          subjects.mmrView("*"),
        ],
        // The relay pushes each client its own meeting's events.
        subscribe: [inbox, subjects.meetingRoster("*")],
        respond: false,
      }
    case "controller":
      return {
        publish: [
          ...jetstream,
          ...kvRead(buckets.placements),
          ...kvWrite(buckets.placements),
          ...kvRead(buckets.presence),
          ...kvWrite(buckets.presence, `controller.${zone}.${id}`),
          // Checking an MMR a client finds silent.
          subjects.mmrAdmin("*"),
          subjects.zoneMuteReports(zone!),
        ],
        subscribe: [inbox, subjects.controller(zone!, id), subjects.zoneAssign(zone!), subjects.zoneLoad(zone!), subjects.zoneMuteReports(zone!)],
        respond: true,
      }
    case "mmr":
      return {
        publish: [
          ...jetstream,
          ...kvRead(buckets.presence),
          ...kvWrite(buckets.presence, `mmr.${zone}.${id}`),
          ...kvRead(buckets.placements),
          subjects.zoneLoad(zone!),
          subjects.meetingRoster("*"),
        ],
        subscribe: [inbox, subjects.mmr(id), subjects.mmrAdmin(id), subjects.mmrView(id)],
        respond: true,
      }
    case "tunnel":
      return {
        publish: [
          ...jetstream,
          ...kvRead(buckets.presence),
          ...kvWrite(buckets.presence, `tunnel.${id}`),
          // What it relays for its clients, each request checked against the client's join token first.
          ...relayed,
        ],
        subscribe: [inbox, subjects.meetingRoster("*")],
        respond: false,
      }
  }
}

/** An operator's tools (the dashboard's reads, `meetzone up`'s own process): everything. @category roles */
export const operator: Permissions = { publish: [">"], subscribe: [">"], respond: true }

/** What a join may reach: its participant, its meeting, the zones its join-info listed. @category models */
export interface ClientScope {
  readonly participant: string
  readonly meeting: string
  readonly zones: ReadonlyArray<{ readonly id: string }>
}

/**
 * A client's permissions, for one join: requests to the controllers of the
 * zones it was given and to MMRs' client subjects; its own inbox; its own
 * meeting's roster. No JetStream, no KV, no load or presence, no other inbox.
 *
 * @category roles
 */
export const forClient = (subjects: Subjects, scope: ClientScope): Permissions => ({
  publish: [...scope.zones.flatMap((z) => [subjects.zoneAssign(z.id), subjects.controller(z.id, "*")]), subjects.mmr("*")],
  subscribe: [`${inboxPrefix.client(scope.participant)}.>`, subjects.meetingRoster(scope.meeting)],
  respond: false,
})

/**
 * Does `pattern` (with NATS wildcards: `*` one token, `>` one or more at the
 * end) match `subject`?
 *
 * @category matching
 */
export const matches = (pattern: string, subject: string): boolean => {
  const p = pattern.split(".")
  const s = subject.split(".")
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i
    if (i >= s.length) return false
    if (p[i] !== "*" && p[i] !== s[i]) return false
  }
  return p.length === s.length
}

/** Does one of `allowed` match `subject`? @category matching */
export const allows = (allowed: ReadonlyArray<string>, subject: string): boolean => allowed.some((a) => matches(a, subject))
