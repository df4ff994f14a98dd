/**
 * Each way a join can end without a connection, each carrying the join
 * report up to that point.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { JoinReport, ZoneScore } from "../../protocol/join-report.js"

/** @category errors */
export class MeetingNotFound extends Data.TaggedError("MeetingNotFound")<{
  readonly meeting: string
  readonly report: JoinReport
}> {
  override get message(): string {
    return `no meeting ${this.meeting}`
  }
}

/** The passcode was missing or wrong, or a token was refused. @category errors */
export class AccessDenied extends Data.TaggedError("AccessDenied")<{
  readonly meeting: string
  readonly code: string
  readonly detail: string
  readonly report: JoinReport
}> {
  override get message(): string {
    return `access to meeting ${this.meeting} denied: ${this.detail}`
  }
}

/** The web lookup could not be reached or answered nonsense. @category errors */
export class LookupFailed extends Data.TaggedError("LookupFailed")<{
  readonly url: string
  readonly detail: string
  readonly report: JoinReport
}> {
  override get message(): string {
    return `meeting lookup at ${this.url} failed: ${this.detail}`
  }
}

/** No zone controller answered before the deadline (5.5 s by default). @category errors */
export class ZonesUnreachable extends Data.TaggedError("ZonesUnreachable")<{
  readonly zones: ReadonlyArray<ZoneScore>
  readonly elapsedMs: number
  readonly report: JoinReport
}> {
  override get message(): string {
    return `no zone controller answered within ${Math.round(this.elapsedMs)} ms (${this.zones.length} zones probed)`
  }
}

/** Zones answered, but none could give the meeting an MMR that took us. @category errors */
export class NoMmrAvailable extends Data.TaggedError("NoMmrAvailable")<{
  readonly detail: string
  readonly report: JoinReport
}> {
  override get message(): string {
    return `no MMR available: ${this.detail}`
  }
}

/** An MMR took us, but no transport carried media to it. @category errors */
export class MediaUnreachable extends Data.TaggedError("MediaUnreachable")<{
  readonly detail: string
  readonly report: JoinReport
}> {
  override get message(): string {
    return `media could not reach the MMR: ${this.detail}`
  }
}

/**
 * Nothing reached the meeting — no controller, no tunnel: the browser web
 * client is the way in. Carries its URL and why each path failed.
 *
 * @category errors
 */
export class UseWebClient extends Data.TaggedError("UseWebClient")<{
  readonly url: string
  readonly reasons: Readonly<Record<string, string>>
  readonly report: JoinReport
}> {
  override get message(): string {
    return `no path reached the meeting (${Object.entries(this.reasons).map(([p, r]) => `${p}: ${r}`).join("; ")}); use the web client: ${this.url}`
  }
}

/** @category errors */
export type JoinError =
  | MeetingNotFound
  | AccessDenied
  | LookupFailed
  | ZonesUnreachable
  | NoMmrAvailable
  | MediaUnreachable
  | UseWebClient
