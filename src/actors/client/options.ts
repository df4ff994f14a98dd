/**
 * What a join is asked to do: the meeting, how to reach it, and the media to
 * connect. Plain data; `Client.join` takes it.
 *
 * @since 0.1.0
 */
import type { Duration, Stream } from "effect"
import type { MediaKind, MediaTransport } from "../../protocol/media.js"
import type { TlsTrust } from "./lookup.js"
import type { Strategy } from "./transport-decision.js"
import type * as MediaMigration from "./media-migration.js"
import type * as MmrLiveness from "./mmr-liveness.js"
import type * as Selection from "./zone-selection.js"

/** @category models */
export interface JoinOptions {
  /** The web lookup's base URL. */
  readonly web: string
  /** The meeting id (10 or 11 digits). */
  readonly meeting: string
  /** The participant's name, as others see it. Default: the web lookup's ("Guest" and four characters of its id). */
  readonly name?: string
  /** The meeting's passcode, when it has one. */
  readonly passcode?: string
  /** Which certificates to trust for the web lookup, the tunnels and NATS (a CA in PEM, or none for the system's). */
  readonly tls?: TlsTrust
  /** A proxy URL, or "none"; undefined reads HTTPS_PROXY / NO_PROXY from `env`. */
  readonly proxy?: string
  /** Where HTTPS_PROXY / NO_PROXY are read from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Zone selection's timing: its deadline (default 5.5 s), probes per controller and their spacing. */
  readonly zoneSelection?: Partial<Selection.SelectionOptions>
  /** Default 10 s. */
  readonly lookupTimeout?: Duration.DurationInput
  /** Tell the web lookup how the join went (for its operators' metrics and dashboard). Default true. */
  readonly reportToWeb?: boolean
  /** Per Assign or Join attempt. Default 2 s. */
  readonly requestTimeout?: Duration.DurationInput
  /** Media to connect; without it the join ends at the MMR. */
  readonly media?: MediaOptions
  /** How long tunnels get to answer a ping. Default 3 s. */
  readonly tunnelTimeoutMs?: number
  /**
   * Watching the MMR: a question every 250 ms; nobody listening (it died) or
   * two unanswered (it froze) and the session moves to another MMR. `false`
   * turns it off (only a leaving MMR moves the session then).
   */
  readonly liveness?: MmrLiveness.LivenessOptions | false
  /**
   * Only these paths, in the usual order (direct, then the tunnel); the join
   * fails with the last one's error instead of falling back further (nor to
   * the web client). Default: every path. For trying one path alone.
   */
  readonly paths?: ReadonlyArray<"direct" | "tunnel">
}

/** @category models */
export interface MediaOptions {
  /** Kinds to open a connection for (each both sends and receives). */
  readonly kinds: ReadonlyArray<MediaKind>
  /** Send synthetic media on every connected kind without a source. Default true. */
  readonly synthetic?: boolean
  /**
   * The team's own media, per kind: RTP packets to send, given the SSRC the
   * session declared for that kind (the MMR refuses any other). Sent from the
   * moment the kind connects until the stream ends.
   */
  readonly sources?: Partial<Record<MediaKind, (ssrc: number) => Stream.Stream<Uint8Array>>>
  /** Transport fallback: `race` (staggered, RFC 8305; default) or `sequential`. */
  readonly strategy?: Strategy
  /** Only these transports, in this order (default UDP, TCP, TLS; TLS alone behind a proxy). */
  readonly transports?: ReadonlyArray<MediaTransport>
  /** Race: the head start each transport gets over the next. Default 250 ms. */
  readonly staggerMs?: number
  /** Each transport attempt's own timeout. Default 2,000 ms. */
  readonly attemptTimeoutMs?: number
  /** DSCP marks per kind (IP_TOS). Defaults audio 46 (EF), video 34 (AF41), content 26 (AF31). */
  readonly dscp?: Partial<Record<MediaKind, number>>
  /** A keepalive goes out on a connection idle this long. Default 1,000 ms. */
  readonly keepaliveMs?: number
  /** A connection that has heard nothing this long is closed and dialled again. Default 3,000 ms. */
  readonly silenceMs?: number
  /** Between consent checks on each media connection; 0 turns them (and mute detection) off. Default 250 ms. */
  readonly consentMs?: number
  /** Between RTCP reports on each media connection (RFC 3550, randomised 0.5–1.5×); 0 sends none. Default 1000 ms. */
  readonly rtcpIntervalMs?: number
  /**
   * Media mute this long (no consent check answered on any kind) while the
   * MMR still answers control: the session reports it to the controllers,
   * which move the meeting when they agree. Default 1000 ms.
   */
  readonly muteMs?: number
  /**
   * Moving a kind whose UDP path turns lossy to TCP (else TLS), and back when
   * UDP probes are good again (media-migration.ts); `false` keeps each kind
   * where the join put it. Defaults: 20 % loss in 3 of 5 one-second reports;
   * back after 4 good probes and 10 s (doubling when it flaps).
   */
  readonly migration?: MediaMigration.MigrationOptions | false
  /** Watching the host's addresses: a media connection whose local address is gone is dialled again (network-watch.ts); `false` turns it off. */
  readonly networkWatch?: boolean
  /** End-to-end meetings: senders switch to a new key this long after the leader told it (receivers at once). Default 1000 ms. */
  readonly keyActivationMs?: number
}

