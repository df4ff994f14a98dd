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
import { BusError } from "../../protocol/errors.js"
import { RelayReply } from "../../protocol/relay.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import type { WebSocketConnect } from "../websocket.js"
import { clientOptions } from "../websocket.js"
import * as Requests from "./requests.js"

const decodeReply = Schema.decodeUnknownEither(Schema.parseJson(RelayReply))

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
    socket.on("message", (raw: WebSocket.RawData) => {
      const decoded = decodeReply(raw.toString())
      if (Either.isLeft(decoded) || decoded.right.id === null) return
      requests.answer(decoded.right.id as number, decoded.right)
    })
    return requests.bus
  })
