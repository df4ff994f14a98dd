/**
 * The relay's client side: a ControlBus whose requests travel over one TLS
 * WebSocket (the `ws` package; through an HTTP proxy with CONNECT when there
 * is one). Requests, and the events of the join token's meeting that the
 * relay pushes: subscribing to that subject hears them; publishing and any
 * other subscription stay inside the deployment.
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Effect, Either, Schema } from "effect"
import WebSocket from "ws"
import { BusError } from "../../protocol/errors.js"
import { RelayMessage } from "../../protocol/relay.js"
import type { ControlBusShape, IncomingMessage } from "../../runtime/ControlBus.js"
import type { WebSocketConnect } from "../websocket.js"
import { clientOptions } from "../websocket.js"
import * as Requests from "./requests.js"

const decodeMessage = Schema.decodeUnknownEither(Schema.parseJson(RelayMessage))

/**
 * Opens the relay at `url` (wss://…/relay) for the life of the scope.
 *
 * @category connecting
 */
export const connect = (
  url: string,
  options: WebSocketConnect,
): Effect.Effect<ControlBusShape, BusError, Scope.Scope> =>
  Effect.gen(function* () {
    const socket = yield* Effect.acquireRelease(
      Effect.async<WebSocket, BusError>((resume) => {
        const ws = new WebSocket(url, clientOptions(options.tls ?? {}, options.proxy, options.timeoutMs, options.bearer))
        ws.once("open", () => resume(Effect.succeed(ws)))
        ws.once("error", (e) => resume(Effect.fail(new BusError({ operation: "connect", detail: `relay ${url}: ${e.message}` }))))
        return Effect.sync(() => ws.terminate())
      }),
      (ws) => Effect.sync(() => ws.close()),
    )
    const requests = Requests.make("relay", "relay", (request) => socket.send(JSON.stringify(request)))
    socket.on("close", () => requests.lost("connection closed"))
    socket.on("error", (e: Error) => requests.lost(e.message))
    const listeners = new Map<string, Set<(message: IncomingMessage) => void>>()
    socket.on("message", (raw: WebSocket.RawData) => {
      const decoded = decodeMessage(raw.toString())
      if (Either.isLeft(decoded)) return
      const m = decoded.right
      if ("event" in m) {
        const data = Buffer.from(m.data, "base64")
        for (const l of listeners.get(m.event) ?? []) {
          l({ subject: m.event, data, receivedAt: Date.now(), reply: undefined, header: () => undefined, respond: () => false })
        }
        return
      }
      if (m.id === null) return
      requests.answer(m.id, m)
    })
    return {
      ...requests.bus,
      // Only the subjects the relay pushes (the token's meeting's events) ever deliver anything.
      subscribe: (subject, _options, onMessage) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            let set = listeners.get(subject)
            if (set === undefined) listeners.set(subject, (set = new Set()))
            set.add(onMessage)
          }),
          () => Effect.sync(() => void listeners.get(subject)?.delete(onMessage)),
        ),
    } satisfies ControlBusShape
  })
