/**
 * The relay's client side: a ControlBus whose requests travel over one TLS
 * WebSocket (the `ws` package; through an HTTP proxy with CONNECT when there
 * is one). Only request/reply: publishing and subscribing stay inside the
 * deployment.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Effect, Either, Schema } from "effect"
import WebSocket from "ws"
import { BusError, NoResponders, RequestTimeout } from "../../protocol/errors.js"
import { RelayReply } from "../../protocol/relay.js"
import type { ControlBusShape, ReplyMessage } from "../../runtime/ControlBus.js"
import type { ProxyTarget } from "../proxy.js"
import { ProxyTlsAgent } from "../proxy.js"

const decodeReply = Schema.decodeUnknownEither(Schema.parseJson(RelayReply))

/**
 * Opens the relay at `url` (wss://…/relay) for the life of the scope.
 *
 * @category connecting
 */
export const connect = (
  url: string,
  options: {
    readonly tls?: { readonly ca?: string; readonly insecure?: boolean }
    readonly proxy?: ProxyTarget
    readonly timeoutMs: number
  },
): Effect.Effect<ControlBusShape, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const tls = options.tls ?? {}
    const socket = yield* Effect.acquireRelease(
      Effect.async<WebSocket, BusError>((resume) => {
        const ws = new WebSocket(url, {
          handshakeTimeout: options.timeoutMs,
          ...(options.proxy !== undefined
            ? { agent: new ProxyTlsAgent(options.proxy, tls, options.timeoutMs) }
            : { ...(tls.ca !== undefined ? { ca: tls.ca } : {}), rejectUnauthorized: tls.insecure !== true }),
        })
        ws.once("open", () => resume(Effect.succeed(ws)))
        ws.once("error", (e) => resume(Effect.fail(new BusError({ operation: "connect", detail: `relay ${url}: ${e.message}` }))))
        return Effect.sync(() => ws.terminate())
      }),
      (ws) => Effect.sync(() => ws.close()),
    )
    type Settle = (reply: Either.Either<ReplyMessage, RequestTimeout | NoResponders | BusError>) => void
    const pending = new Map<number, { readonly subject: string; readonly timeoutMs: number; readonly settle: Settle }>()
    let nextId = 1
    const lost = (detail: string) => {
      for (const [, p] of pending) p.settle(Either.left(new BusError({ operation: "request", subject: p.subject, detail })))
      pending.clear()
    }
    socket.on("close", () => lost("relay connection closed"))
    socket.on("error", (e: Error) => lost(e.message))
    socket.on("message", (raw: WebSocket.RawData) => {
      const decoded = decodeReply(raw.toString())
      if (Either.isLeft(decoded) || decoded.right.id === null) return
      const reply = decoded.right
      const p = pending.get(reply.id as number)
      if (p === undefined) return
      pending.delete(reply.id as number)
      if ("data" in reply) {
        p.settle(Either.right({ subject: p.subject, data: Buffer.from(reply.data, "base64"), header: () => undefined }))
        return
      }
      const e = reply.error
      p.settle(
        Either.left(
          e._tag === "RequestTimeout"
            ? new RequestTimeout({ subject: p.subject, timeoutMs: p.timeoutMs })
            : e._tag === "NoResponders"
              ? new NoResponders({ subject: p.subject })
              : new BusError({ operation: "request", subject: p.subject, detail: `relay: ${e._tag}: ${e.detail}` }),
        ),
      )
    })

    const notSupported = (operation: string) =>
      Effect.fail(new BusError({ operation, detail: "the client relay carries requests only" }))

    return {
      kind: "relay",
      publish: (subject) => notSupported(`publish ${subject}`),
      subscribe: (subject) => notSupported(`subscribe ${subject}`),
      flush: Effect.void,
      request: (subject, data, { timeoutMs }) =>
        Effect.async<ReplyMessage, RequestTimeout | NoResponders | BusError>((resume) => {
          const id = nextId++
          // The relay times the request out itself; this covers a relay that went quiet.
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
          socket.send(JSON.stringify({ id, subject, data: Buffer.from(data).toString("base64"), timeoutMs }))
          return Effect.sync(() => {
            clearTimeout(timer)
            pending.delete(id)
          })
        }),
    } satisfies ControlBusShape
  })
