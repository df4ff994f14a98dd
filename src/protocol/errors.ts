/**
 * Typed errors of the control plane. Each is a Schema.TaggedError, so the ones
 * that cross the wire (DecodeError, RemoteError) are encoded and decoded like
 * any other message, and every one carries the facts an operator needs.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * No reply within the request's timeout.
 *
 * @category errors
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {
  subject: Schema.String,
  timeoutMs: Schema.Number,
}) {
  override get message(): string {
    return `no reply on ${this.subject} within ${this.timeoutMs} ms`
  }
}

/**
 * Nobody listens on the subject: the request could not be delivered at all.
 *
 * @category errors
 */
export class NoResponders extends Schema.TaggedError<NoResponders>()("NoResponders", {
  subject: Schema.String,
}) {
  override get message(): string {
    return `no responders on ${this.subject}`
  }
}

/**
 * A message did not match its schema. `side` says whose bytes were bad:
 * `request` (the actor could not decode what was sent to it), `reply` (the
 * asker could not decode the answer) or `message` (a published message or a
 * stored value).
 *
 * @category errors
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  subject: Schema.String,
  side: Schema.Literal("request", "reply", "message"),
  issue: Schema.String,
}) {
  override get message(): string {
    return `cannot decode ${this.side} on ${this.subject}: ${this.issue}`
  }
}

/**
 * The actor answered, but with a failure outside its protocol's declared
 * failures: its behaviour died (a defect), its mailbox was full, or it was
 * stopping. Declared failures arrive as themselves, not wrapped in this.
 *
 * @category errors
 */
export class RemoteError extends Schema.TaggedError<RemoteError>()("RemoteError", {
  subject: Schema.String,
  actor: Schema.String,
  reason: Schema.Literal("defect", "overloaded", "stopping", "unknown-message"),
  detail: Schema.String,
}) {
  override get message(): string {
    return `${this.actor} on ${this.subject} failed (${this.reason}): ${this.detail}`
  }
}

/**
 * The bus itself failed: not connected, connection closed, permission denied.
 *
 * @category errors
 */
export class BusError extends Schema.TaggedError<BusError>()("BusError", {
  operation: Schema.String,
  subject: Schema.optional(Schema.String),
  detail: Schema.String,
}) {
  override get message(): string {
    return `bus ${this.operation}${this.subject ? ` on ${this.subject}` : ""} failed: ${this.detail}`
  }
}

/**
 * What an `ask` can fail with besides the request's own declared failures.
 *
 * @category errors
 */
export type AskError = RequestTimeout | NoResponders | DecodeError | RemoteError | BusError

/**
 * Errors of the kernel that travel inside a reply envelope.
 *
 * @category errors
 */
export const KernelReplyError = Schema.Union(DecodeError, RemoteError)
export type KernelReplyError = typeof KernelReplyError.Type

/**
 * A key-value operation failed for a reason other than the compare-and-set
 * outcomes below (bucket unavailable, server gone, timeout).
 *
 * @category errors
 */
export class KvError extends Schema.TaggedError<KvError>()("KvError", {
  bucket: Schema.String,
  operation: Schema.String,
  key: Schema.optional(Schema.String),
  detail: Schema.String,
}) {
  override get message(): string {
    return `kv ${this.operation} ${this.bucket}${this.key ? `/${this.key}` : ""} failed: ${this.detail}`
  }
}

/**
 * create-if-absent lost: the key already holds a live value.
 *
 * @category errors
 */
export class KeyExists extends Schema.TaggedError<KeyExists>()("KeyExists", {
  bucket: Schema.String,
  key: Schema.String,
}) {
  override get message(): string {
    return `${this.bucket}/${this.key} already exists`
  }
}

/**
 * compare-and-set lost: the key is no longer at the expected revision.
 *
 * @category errors
 */
export class RevisionMismatch extends Schema.TaggedError<RevisionMismatch>()("RevisionMismatch", {
  bucket: Schema.String,
  key: Schema.String,
  expected: Schema.Number,
}) {
  override get message(): string {
    return `${this.bucket}/${this.key} is not at revision ${this.expected}`
  }
}

/**
 * An actor could not reach the shared store it needs to answer (KV down,
 * timing out, or holding a value it cannot read). Worth asking elsewhere.
 *
 * @category errors
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  store: Schema.String,
  detail: Schema.String,
}) {
  override get message(): string {
    return `store ${this.store} unavailable: ${this.detail}`
  }
}
