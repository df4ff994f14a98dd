/**
 * Control requests carried as messages over one connection (the client
 * relay's WebSocket, the HTTP tunnel's): a request-only ControlBus whose
 * asks are numbered, sent, and settled by the numbered answer — or failed
 * when the connection is lost, or when it stays silent past the deadline.
 *
 * @since 0.1.0
 */
import { Effect, Either } from "effect"
import { BusError, NoResponders, RequestTimeout } from "../../protocol/errors.js"
import type { ControlBusShape, ReplyMessage } from "../../runtime/ControlBus.js"

/** A request as it goes on the wire (data base64). @category models */
export interface OutgoingRequest {
  readonly id: number
  readonly subject: string
  readonly data: string
  readonly timeoutMs: number
}

/** An answer as it comes back: the reply's data (base64), or the remote side's error. @category models */
export type Answer = { readonly data: string } | { readonly error: { readonly _tag: string; readonly detail: string } }

/** @category models */
export interface RequestChannel {
  /** Publish and subscribe fail: only requests cross this connection. */
  readonly bus: ControlBusShape
  /** Settles request `id` with its answer; an unknown id (late, or never asked) is ignored. */
  readonly answer: (id: number, answer: Answer) => void
  /** Fails every request still waiting: the connection is gone. */
  readonly lost: (reason: string) => void
}

type Settle = (reply: Either.Either<ReplyMessage, RequestTimeout | NoResponders | BusError>) => void

/**
 * Requests of `kind` sent with `send`; `via` names the connection in errors.
 * The far side times each request out itself; our timer, a little later,
 * covers a far side that went quiet.
 *
 * @category constructors
 */
export const make = (kind: "relay" | "tunnel", via: string, send: (request: OutgoingRequest) => void): RequestChannel => {
  const pending = new Map<number, { readonly subject: string; readonly timeoutMs: number; readonly settle: Settle }>()
  let nextId = 1
  const notSupported = (operation: string) => Effect.fail(new BusError({ operation, detail: `the ${via} carries requests only` }))
  return {
    bus: {
      kind,
      publish: (subject) => notSupported(`publish ${subject}`),
      subscribe: (subject) => notSupported(`subscribe ${subject}`),
      flush: Effect.void,
      request: (subject, data, { timeoutMs }) =>
        Effect.async<ReplyMessage, RequestTimeout | NoResponders | BusError>((resume) => {
          const id = nextId++
          const timer = setTimeout(() => {
            pending.delete(id)
            resume(Effect.fail(new RequestTimeout({ subject, timeoutMs })))
          }, timeoutMs + 250)
          pending.set(id, {
            subject,
            timeoutMs,
            settle: (result) => {
              clearTimeout(timer)
              resume(Either.isRight(result) ? Effect.succeed(result.right) : Effect.fail(result.left))
            },
          })
          send({ id, subject, data: Buffer.from(data).toString("base64"), timeoutMs })
          return Effect.sync(() => {
            clearTimeout(timer)
            pending.delete(id)
          })
        }),
    },
    answer: (id, answer) => {
      const p = pending.get(id)
      if (p === undefined) return
      pending.delete(id)
      if ("data" in answer) {
        p.settle(Either.right({ subject: p.subject, data: Buffer.from(answer.data, "base64"), header: () => undefined }))
        return
      }
      const e = answer.error
      p.settle(
        Either.left(
          e._tag === "RequestTimeout"
            ? new RequestTimeout({ subject: p.subject, timeoutMs: p.timeoutMs })
            : e._tag === "NoResponders"
              ? new NoResponders({ subject: p.subject })
              : new BusError({ operation: "request", subject: p.subject, detail: `${via}: ${e._tag}: ${e.detail}` }),
        ),
      )
    },
    lost: (reason) => {
      for (const [, p] of pending) p.settle(Either.left(new BusError({ operation: "request", subject: p.subject, detail: `${via}: ${reason}` })))
      pending.clear()
    },
  }
}
