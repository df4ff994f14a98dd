/**
 * Every NATS subject and key-value bucket meetzone uses, under one prefix
 * (`mz` by default), so two deployments can share a NATS account.
 *
 *   <p>.zone.<zone>.assign                 Assign, shared by the zone's controllers (queue group)
 *   <p>.zone.<zone>.controller.<id>        Probe and Assign to one controller
 *   <p>.zone.<zone>.load                   MMR load reports (published)
 *   <p>.mmr.<id>                           one MMR's control channel: what clients may ask (Join, Leave, Roster, MediaStats, MediaTokens, Signal)
 *   <p>.mmr.<id>.admin                     what only operators and actors may ask an MMR (Drain, MediaCounters)
 *   <p>.client.<participant>               events for one participant
 *   <p>.meeting.<meeting>.roster           the meeting's roster, published on every change
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A name that is safe as one subject token and as one KV key token.
 *
 * @category schemas
 */
export const Token = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, {
    message: () => "letters, digits, '-' and '_' only (1 to 64)",
  }),
)

/** @category models */
export interface Subjects {
  readonly prefix: string
  readonly zoneAssign: (zone: string) => string
  readonly zoneAssignQueue: (zone: string) => string
  readonly controller: (zone: string, controller: string) => string
  readonly zoneLoad: (zone: string) => string
  /** Mute reports a zone's controllers share, so that a quorum counts across them. */
  readonly zoneMuteReports: (zone: string) => string
  readonly mmr: (mmr: string) => string
  readonly mmrAdmin: (mmr: string) => string
  /** Read-only questions (the dashboard's): a web tier may ask these and cannot drain. */
  readonly mmrView: (mmr: string) => string
  readonly client: (participant: string) => string
  readonly meetingRoster: (meeting: string) => string
}

/**
 * Subjects under `prefix`.
 *
 * @category constructors
 */
export const make = (prefix = "mz"): Subjects => ({
  prefix,
  zoneAssign: (zone) => `${prefix}.zone.${zone}.assign`,
  zoneAssignQueue: (zone) => `${prefix}.zone.${zone}.controllers`,
  controller: (zone, controller) => `${prefix}.zone.${zone}.controller.${controller}`,
  zoneLoad: (zone) => `${prefix}.zone.${zone}.load`,
  zoneMuteReports: (zone) => `${prefix}.zone.${zone}.mute`,
  mmr: (mmr) => `${prefix}.mmr.${mmr}`,
  mmrAdmin: (mmr) => `${prefix}.mmr.${mmr}.admin`,
  mmrView: (mmr) => `${prefix}.mmr.${mmr}.view`,
  client: (participant) => `${prefix}.client.${participant}`,
  meetingRoster: (meeting) => `${prefix}.meeting.${meeting}.roster`,
})

/** @category models */
export interface Buckets {
  /** meeting id → Meeting */
  readonly meetings: string
  /** meeting id → Placement (created with create-if-absent, replaced with compare-and-set) */
  readonly placements: string
  /** `controller.<zone>.<id>`, `mmr.<zone>.<id>`, `tunnel.<id>` → Presence, with TTL */
  readonly presence: string
  /** meeting id → its media key epochs (web servers only: no MMR or tunnel may read it) */
  readonly mediaKeys: string
}

/**
 * Bucket names under `prefix` (JetStream bucket names take no dots).
 *
 * @category constructors
 */
export const buckets = (prefix = "mz"): Buckets => ({
  meetings: `${prefix}_meetings`,
  placements: `${prefix}_placements`,
  presence: `${prefix}_presence`,
  mediaKeys: `${prefix}_media_keys`,
})

/** Presence keys. @category keys */
export const presenceKey = {
  controller: (zone: string, id: string) => `controller.${zone}.${id}`,
  mmr: (zone: string, id: string) => `mmr.${zone}.${id}`,
  tunnel: (id: string) => `tunnel.${id}`,
} as const
