/**
 * GET /relay: control requests over a TLS WebSocket, for clients that cannot
 * reach NATS. A connection presents its join token before it is upgraded
 * (`Authorization: Bearer <joinToken>`); without a valid one it gets a 401,
 * and every request it relays is held to that token.
 *
 * @since 0.1.0
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { FiberSet } from "effect"
import { Effect, Either, Fiber, FiberSet as FiberSets } from "effect"
import type { RelayPolicy } from "../../protocol/relay.js"
import type { JoinTokensShape } from "../../protocol/token.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import * as RelayServer from "../../transports/relay/server.js"
import { apiError, bearerOf } from "./http.js"

/** @category routes */
export const serve = (deps: {
  readonly bus: ControlBusShape
  readonly policy: RelayPolicy
  readonly tokens: JoinTokensShape
  /** Sessions outlive their request's handler; the web lookup ends them when it stops. */
  readonly relays: FiberSet.FiberSet<void>
  /** Counts a refused connection. */
  readonly refused: () => void
  /** The subject of a meeting's events (the relay pushes its client's). */
  readonly events: (meeting: string) => string
}) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const bearer = bearerOf(request)
    if (bearer === undefined) {
      deps.refused()
      return apiError(401, "Unauthorized", "the relay needs a join token (Authorization: Bearer <joinToken>)")
    }
    const verified = yield* Effect.either(deps.tokens.verify(bearer))
    if (Either.isLeft(verified)) {
      deps.refused()
      return apiError(401, "InvalidToken", verified.left.message)
    }
    const socket = yield* request.upgrade
    const session = yield* FiberSets.run(
      deps.relays,
      RelayServer.serve(socket, {
        bus: deps.bus,
        policy: deps.policy,
        authority: { token: bearer, claims: verified.right },
        events: deps.events(verified.right.meeting),
      }),
    )
    yield* Fiber.await(session)
    return HttpServerResponse.empty()
  })
