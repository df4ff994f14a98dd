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
  readonly meeting: string
  readonly name?: string
  readonly passcode?: string
  readonly tls?: TlsTrust
  /** A proxy URL, or "none"; undefined reads HTTPS_PROXY / NO_PROXY from `env`. */
  readonly proxy?: string
  readonly env?: Readonly<Record<string, string | undefined>>
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
  readonly strategy?: Strategy
  /** Only these transports, in this order (default UDP, TCP, TLS; TLS alone behind a proxy). */
  readonly transports?: ReadonlyArray<MediaTransport>
  readonly staggerMs?: number
  readonly attemptTimeoutMs?: number
  readonly dscp?: Partial<Record<MediaKind, number>>
  readonly keepaliveMs?: number
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

