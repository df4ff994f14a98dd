/**
 * The in-process ControlBus: NATS semantics (wildcards, queue groups, no
 * responders, asynchronous delivery, each receiver its own copy of the bytes)
 * without a server, for single-process topologies and deterministic tests.
 * Request timeouts run on Effect's Clock, so a TestClock drives them.
 *
 * @since 0.1.0
 */
import { Clock, Context, DefaultServices, Duration, Effect, Layer } from "effect"
import { BusError, NoResponders, RequestTimeout } from "../../protocol/errors.js"
import type { ControlBusShape, Headers, IncomingMessage, ReplyMessage } from "../../runtime/ControlBus.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import { hasWildcard, isValidSubject, matches } from "./subjects.js"

interface Subscriber {
  readonly pattern: string
  readonly queue: string | undefined
  readonly deliver: (message: IncomingMessage) => void
  /** The subscriber's Clock: messages are stamped on it, so deadlines hold on a TestClock too. */
  readonly clock: Clock.Clock
}

const INBOX = "_INBOX.memory."

/** The live Clock: with it, a plain timer is ~8× cheaper than an Effect timeout. */
const liveClock = Context.get(DefaultServices.liveServices, Clock.Clock)

const readHeader =
  (headers: Headers | undefined) =>
  (name: string): string | undefined =>
    headers === undefined ? undefined : headers[name]

/**
 * A fresh, empty bus. Everything that should talk must share one instance.
 *
 * @category constructors
 */
export const make = (): ControlBusShape => {
  const exact = new Map<string, Set<Subscriber>>()
  const wildcard = new Set<Subscriber>()
  const pendingReplies = new Map<string, (reply: ReplyMessage) => void>()
  const queueCursor = new Map<string, number>()
  let nextInbox = 0

  const recipients = (subject: string): Array<Subscriber> => {
    const all: Array<Subscriber> = []
    const direct = exact.get(subject)
    if (direct !== undefined) for (const s of direct) all.push(s)
    for (const s of wildcard) if (matches(s.pattern, subject)) all.push(s)
    if (all.length <= 1) return all
    // Plain subscribers each get a copy; each queue group gets one, taken in turn.
    const chosen: Array<Subscriber> = []
    const groups = new Map<string, Array<Subscriber>>()
    for (const s of all) {
      if (s.queue === undefined) chosen.push(s)
      else {
        const members = groups.get(s.queue)
        if (members === undefined) groups.set(s.queue, [s])
        else members.push(s)
      }
    }
    for (const [queue, members] of groups) {
      const cursor = queueCursor.get(queue) ?? 0
      queueCursor.set(queue, cursor + 1)
      chosen.push(members[cursor % members.length]!)
    }
    return chosen
  }

  /** Returns the number of subscribers the message went to. */
  const send = (subject: string, data: Uint8Array, headers: Headers | undefined, reply: string | undefined): number => {
    const waiting = pendingReplies.get(subject)
    if (waiting !== undefined) {
      pendingReplies.delete(subject)
      const copy = data.slice()
      queueMicrotask(() => waiting({ subject, data: copy, header: readHeader(headers) }))
      return 1
    }
    const targets = recipients(subject)
    for (const target of targets) {
      const copy = data.slice()
      const message: IncomingMessage = {
        subject,
        data: copy,
        receivedAt: target.clock.unsafeCurrentTimeMillis(),
        reply,
        header: readHeader(headers),
        respond: (answer, answerHeaders) => {
          if (reply === undefined) return false
          send(reply, answer, answerHeaders, undefined)
          return true
        },
      }
      queueMicrotask(() => target.deliver(message))
    }
    return targets.length
  }

  const invalid = (operation: string, subject: string) =>
    new BusError({ operation, subject, detail: `invalid subject "${subject}"` })

  /** Sends a request and waits for its reply: none listening → NoResponders; `timeoutMs` set → a plain timer. */
  const awaitReply = (
    inbox: string,
    subject: string,
    data: Uint8Array,
    headers: Headers | undefined,
    timeoutMs: number | undefined,
    timedOut: () => RequestTimeout,
  ) =>
    Effect.async<ReplyMessage, NoResponders | RequestTimeout>((resume) => {
      let done = false
      const finish = () => {
        done = true
        if (timer !== undefined) clearTimeout(timer)
        pendingReplies.delete(inbox)
      }
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              if (done) return
              finish()
              resume(Effect.fail(timedOut()))
            }, timeoutMs)
      pendingReplies.set(inbox, (reply) => {
        if (done) return
        finish()
        resume(Effect.succeed(reply))
      })
      if (send(subject, data, headers, inbox) === 0) {
        finish()
        resume(Effect.fail(new NoResponders({ subject })))
      }
      return Effect.sync(finish)
    })

  return {
    kind: "memory",

    publish: (subject, data, headers) =>
      Effect.suspend(() => {
        if (!isValidSubject(subject, false)) return Effect.fail(invalid("publish", subject))
        send(subject, data, headers, undefined)
        return Effect.void
      }),

    request: (subject, data, { timeoutMs, headers }) =>
      Effect.suspend((): Effect.Effect<ReplyMessage, RequestTimeout | NoResponders | BusError> => {
        if (!isValidSubject(subject, false)) return Effect.fail(invalid("request", subject))
        const inbox = `${INBOX}${nextInbox++}`
        const timedOut = () => new RequestTimeout({ subject, timeoutMs })
        // On the live clock a plain timer; on another (a TestClock) the request times out when that clock says so.
        return Effect.clockWith((clock) =>
          clock === liveClock
            ? awaitReply(inbox, subject, data, headers, timeoutMs, timedOut)
            : awaitReply(inbox, subject, data, headers, undefined, timedOut).pipe(
                Effect.timeoutFail({ duration: Duration.millis(timeoutMs), onTimeout: timedOut }),
              ),
        )
      }),

    subscribe: (subject, options, onMessage) =>
      Effect.clockWith((clock) => {
        if (!isValidSubject(subject, true)) return Effect.fail(invalid("subscribe", subject))
        const subscriber: Subscriber = { pattern: subject, queue: options.queue, deliver: onMessage, clock }
        const add = Effect.sync(() => {
          if (hasWildcard(subject)) wildcard.add(subscriber)
          else {
            const set = exact.get(subject)
            if (set === undefined) exact.set(subject, new Set([subscriber]))
            else set.add(subscriber)
          }
        })
        const remove = Effect.sync(() => {
          wildcard.delete(subscriber)
          const set = exact.get(subject)
          if (set !== undefined) {
            set.delete(subscriber)
            if (set.size === 0) exact.delete(subject)
          }
        })
        return Effect.acquireRelease(add, () => remove)
      }),

    flush: Effect.void,
  }
}

/**
 * A fresh in-process bus as a layer. Build it once and share it.
 *
 * @category layers
 */
export const layer: Layer.Layer<ControlBus> = Layer.sync(ControlBus, make)
