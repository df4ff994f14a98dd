/**
 * Request/reply over one NATS connection without nats.js's per-request
 * machinery: one wildcard subscription on the connection's inbox prefix
 * takes every reply (`<inbox>.<token>`), a map finds the waiting asker, and
 * timeouts share one timer per timeout length (requests of equal timeout
 * expire in the order they were sent). nats.js's `request` makes a promise
 * race, a timer and an Error with its stack for every request, even one
 * answered at once; on this path the cost was a tenth of a round trip.
 *
 * A token is a counter (unique) and 48 random bits (unguessable): whoever
 * answered one request cannot answer another from its reply subject.
 *
 * A reply with status 503 and no data is the server saying nobody listens
 * (no responders). An asker that gives up (interrupted) is forgotten at once;
 * a late answer to it is dropped. When the connection closes, every waiting
 * asker fails then.
 *
 * @since 0.5.0
 */
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/transport-node"
import { createInbox } from "@nats-io/transport-node"
import * as RandomPool from "../../protocol/random-pool.js"

/** @category models */
export type Outcome = { readonly _tag: "Reply"; readonly msg: Msg } | { readonly _tag: "Timeout" } | { readonly _tag: "NoResponders" } | { readonly _tag: "Failed"; readonly error: unknown }

interface Pending {
  readonly done: (outcome: Outcome) => void
  readonly deadline: number
  readonly token: string
}

/** Requests of one timeout length, in the order sent (so in deadline order), with one timer for the earliest. */
class Expiry {
  private queue: Array<Pending> = []
  private head = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  constructor(
    private readonly pending: Map<string, Pending>,
    private readonly onEmpty: () => void,
  ) {}
  add(p: Pending): void {
    this.queue.push(p)
    if (this.timer === undefined) this.arm()
  }
  private arm(): void {
    // Skip those already answered.
    while (this.head < this.queue.length && this.pending.get(this.queue[this.head]!.token) !== this.queue[this.head]) this.head++
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    const next = this.queue[this.head]
    if (next === undefined) {
      this.queue = []
      this.head = 0
      this.timer = undefined
      return this.onEmpty()
    }
    this.timer = setTimeout(() => this.expire(), Math.max(0, next.deadline - performance.now()))
    this.timer.unref?.()
  }
  private expire(): void {
    const now = performance.now()
    while (this.head < this.queue.length && this.queue[this.head]!.deadline <= now) {
      const p = this.queue[this.head++]!
      if (this.pending.get(p.token) === p) {
        this.pending.delete(p.token)
        p.done({ _tag: "Timeout" })
      }
    }
    this.arm()
  }
}

/** @category models */
export interface Requester {
  /** Sends `data` to `subject` and calls `done` once: with the reply, a timeout, no responders or a failure. Returns a cancel. */
  readonly request: (subject: string, data: Uint8Array, timeoutMs: number, headers: MsgHdrs | undefined, done: (outcome: Outcome) => void) => () => void
  /** Waiting askers (for tests). */
  readonly outstanding: () => number
}

/**
 * The requester of `nc`, made on first use (its inbox subscription lives as long as the connection).
 *
 * @category constructors
 */
export const requester = (nc: NatsConnection): Requester => {
  const prefix = (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix
  const inbox = `${createInbox(prefix)}.`
  const pending = new Map<string, Pending>()
  const expiries = new Map<number, Expiry>()
  let next = 0
  // 48 random bits per token, drawn 512 tokens at a time.
  const random = RandomPool.base64url(6)
  const token = () => (next++).toString(36) + random()
  let subscribed = false
  // A closed connection answers nobody: its waiting askers hear so now, not at their timeouts.
  void nc.closed().then((error) => {
    const waiting = [...pending.values()]
    pending.clear()
    for (const p of waiting) p.done({ _tag: "Failed", error: error ?? new Error("the NATS connection is closed") })
  })
  const subscribe = () => {
    nc.subscribe(`${inbox}*`, {
      callback: (err, msg) => {
        if (err !== null) return
        const p = pending.get(msg.subject.slice(inbox.length))
        if (p === undefined) return // answered twice, or its asker gave up
        pending.delete(p.token)
        p.done(msg.data.length === 0 && msg.headers?.code === 503 ? { _tag: "NoResponders" } : { _tag: "Reply", msg })
      },
    })
    subscribed = true
  }
  return {
    outstanding: () => pending.size,
    request: (subject, data, timeoutMs, headers, done) => {
      const p: Pending = { done, deadline: performance.now() + timeoutMs, token: token() }
      pending.set(p.token, p)
      let expiry = expiries.get(timeoutMs)
      if (expiry === undefined) {
        expiry = new Expiry(pending, () => void expiries.delete(timeoutMs))
        expiries.set(timeoutMs, expiry)
      }
      expiry.add(p)
      try {
        if (!subscribed) subscribe()
        nc.publish(subject, data, headers === undefined ? { reply: inbox + p.token } : { reply: inbox + p.token, headers })
      } catch (error) {
        pending.delete(p.token)
        done({ _tag: "Failed", error })
      }
      return () => void (pending.get(p.token) === p && pending.delete(p.token))
    },
  }
}
