/**
 * The control-plane bus: subjects, request/reply, queue groups and headers,
 * with NATS semantics. Two implementations stand behind it — NATS
 * (`transports/nats`) and in-process (`transports/memory`) — and one contract
 * test suite runs unchanged against both.
 *
 * The bus moves bytes; schemas, envelopes and mailboxes are the actor
 * kernel's business (`runtime/Actor.ts`).
 *
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"
import { Context } from "effect"
import type { BusError, NoResponders, RequestTimeout } from "../protocol/errors.js"

/**
 * Message headers. Names are case-sensitive on the wire; meetzone's own use
 * the `Mz-` prefix.
 *
 * @category models
 */
export type Headers = Readonly<Record<string, string>>

/**
 * A message as a subscriber sees it.
 *
 * @category models
 */
export interface IncomingMessage {
  readonly subject: string
  readonly data: Uint8Array
  /** When the bus handed the message over (ms on the subscriber's Clock), for deadline checks. */
  readonly receivedAt: number
  /** The reply subject when the sender expects an answer. */
  readonly reply: string | undefined
  /** One header's value, read lazily (most messages carry few or none). */
  readonly header: (name: string) => string | undefined
  /** Answers the sender; false when there is no one to answer. */
  readonly respond: (data: Uint8Array, headers?: Headers) => boolean
}

/**
 * A reply to a request.
 *
 * @category models
 */
export interface ReplyMessage {
  readonly subject: string
  readonly data: Uint8Array
  readonly header: (name: string) => string | undefined
}

/** @category models */
export interface RequestOptions {
  /** How long to wait for the first reply. */
  readonly timeoutMs: number
  /** Message headers sent with the request. */
  readonly headers?: Headers
}

/** @category models */
export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  readonly queue?: string
}

/**
 * @category models
 */
export interface ControlBusShape {
  /** Which implementation this is, for logs ("nats", "memory"). */
  readonly kind: string
  /** Fire-and-forget. */
  readonly publish: (subject: string, data: Uint8Array, headers?: Headers) => Effect.Effect<void, BusError>
  /** One request, the first reply. */
  readonly request: (
    subject: string,
    data: Uint8Array,
    options: RequestOptions,
  ) => Effect.Effect<ReplyMessage, RequestTimeout | NoResponders | BusError>
  /**
   * Calls `onMessage` for each message on `subject` (wildcards `*` and `>`)
   * until the scope closes. When the effect completes, the subscription is
   * registered: a request sent afterwards will find it.
   */
  readonly subscribe: (
    subject: string,
    options: SubscribeOptions,
    onMessage: (message: IncomingMessage) => void,
  ) => Effect.Effect<void, BusError, Scope.Scope>
  /** Resolves once everything published so far has reached the server. */
  readonly flush: Effect.Effect<void, BusError>
  /**
   * Drops the connection and dials again now (the network under it changed:
   * a connection from an address that is gone stalls rather than fails).
   * Absent where there is nothing to redial (in-process).
   */
  readonly reconnect?: Effect.Effect<void>
}

/**
 * @category tags
 */
export class ControlBus extends Context.Tag("meetzone/ControlBus")<ControlBus, ControlBusShape>() {}
