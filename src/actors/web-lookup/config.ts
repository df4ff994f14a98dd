/**
 * The web lookup's configuration and what a running one gives back.
 *
 * @since 0.1.0
 */
import type { Duration, Effect } from "effect"
import type { Buckets, Subjects } from "../../protocol/subjects.js"
import type { GeoPoint } from "../../protocol/zone.js"
import type { ClientScope } from "../../protocol/permissions.js"
import type * as RateLimit from "../../runtime/RateLimit.js"
import type { TlsIdentity } from "../../transports/tls.js"
import type * as JoinLog from "./join-log.js"

/** A zone as operators define it. @category models */
export interface ZoneDefinition {
  readonly id: string
  readonly name: string
  readonly location: GeoPoint
  /** NATS endpoints clients use to reach this zone's controllers. */
  readonly nats: ReadonlyArray<string>
}

/** @category models */
export interface WebLookupConfig {
  /** Its name in logs, metrics and the dashboard (`web-1`). */
  readonly id: string
  /** The address to listen on. */
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** Base URL clients are told to use; default `https://<host>:<port>`. */
  readonly publicUrl?: string
  /** Its certificate and key (PEM). */
  readonly tls: TlsIdentity
  /** Every zone clients may be sent to, with its location (for Geo-IP ranking) and NATS endpoints. */
  readonly zones: ReadonlyArray<ZoneDefinition>
  /** Peers whose X-Forwarded-For is believed (proxy-addr syntax). */
  readonly trustedProxies: ReadonlyArray<string>
  /** The deployment's NATS subjects (`Subjects.make(prefix)`). */
  readonly subjects: Subjects
  /** The deployment's KV buckets (`Subjects.buckets(prefix)`). */
  readonly buckets: Buckets
  /** How long presence entries live without renewal (zones with no live controller rank last). Default 3 s. */
  readonly presenceTtl?: Duration.DurationInput
  /** JetStream replicas of the buckets it creates. Default 1. */
  readonly replicas?: number
  /** How long a join token is good for. Default 5 minutes. */
  readonly joinTokenTtl?: Duration.DurationInput
  /** Bearer token for /ops/api/state; without one the dashboard is off (404). */
  readonly opsToken?: string
  /**
   * Issues each join its own NATS credentials (`.creds` text), good until
   * `expiresAt` (epoch seconds), for what `scope` may reach; without it,
   * join-info carries none (NATS without auth).
   */
  readonly clientCredentials?: (scope: ClientScope, expiresAt: number) => Effect.Effect<string, unknown>
  /** The CA of the NATS servers' certificates, told to each join with its credentials. */
  readonly natsCa?: string
  /**
   * Media encryption: each meeting's keys made here and given only to the
   * participants admitted here; a new epoch when someone leaves and every
   * `rekeyEvery` (default 15 minutes). `false`: media in the clear.
   */
  readonly mediaKeys?: false | { readonly rekeyEvery?: Duration.DurationInput; readonly activateInMs?: number }
  /** Per client address; wrong passcodes also per meeting. Defaults: 60/min meetings, 600/min join-info, 10/min wrong passcodes (30/min per meeting). */
  readonly limits?: {
    /** New meetings per client address. Default 60 a minute. */
    readonly createMeeting?: RateLimit.Limit
    /** Join-info answers per client address. Default 600 a minute. */
    readonly joinInfo?: RateLimit.Limit
    /** Wrong passcodes per client address. Default 10 a minute. */
    readonly passcodeGuesses?: RateLimit.Limit
    /** Wrong passcodes per meeting, from anywhere. Default 30 a minute. */
    readonly passcodeGuessesPerMeeting?: RateLimit.Limit
  }
}

/** @category models */
export interface WebLookupHandle {
  readonly url: string
  readonly port: number
  /** Joins clients reported here. */
  readonly joins: JoinLog.JoinLog
  /** Join-info answers given (each a participant on its way in). */
  readonly joinInfos: () => number
  /** Relay connections refused for a missing, forged or expired join token. */
  readonly relayRefused: () => number
  /** New media key epochs this server made. */
  readonly keyEpochs: () => number
}
