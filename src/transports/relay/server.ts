/**
 * The relay's server side: one WebSocket, requests checked against the
 * policy and forwarded over the ControlBus, answers sent back as they come.
 * A connection gets at most `maxInFlight` requests at once; a bad message is
 * answered with a BadRequest and the connection goes on. The events of the
 * token's meeting follow as they happen (so that a relayed client follows its
 * MMR leaving, as a NATS client does).
 *
 * @since 0.1.0
 */
import type { Socket } from "@effect/platform/Socket"
import { Effect, Either, Schema } from "effect"
import type { RelayEvent, RelayPolicy, RelayReply } from "../../protocol/relay.js"
import { RelayRequest } from "../../protocol/relay.js"
import type { Authority } from "./forward.js"
import { forward } from "./forward.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"

const decodeRequest = Schema.decodeUnknownEither(Schema.parseJson(RelayRequest))
const text = new TextDecoder()

/** What went over one relay connection. @category models */
export interface RelayStats {
  requests: number
  forbidden: number
  bad: number
}

/**
 * Serves one connection until it closes.
 *
 * @category serving
 */
export const serve = (
  socket: Socket,
  options: {
    readonly bus: ControlBusShape
    readonly policy: RelayPolicy
    /** The join token the connection presented: every request is held to it. */
    readonly authority: Authority
    readonly maxInFlight?: number
    readonly stats?: RelayStats
    /** The subject of the token's meeting's events, pushed to the client. */
    readonly events?: string
  },
): Effect.Effect<void, never> =>
  Effect.scoped(
    Effect.gen(function* () {
      const write = yield* socket.writer
      const send = (reply: RelayReply | RelayEvent) => write(JSON.stringify(reply)).pipe(Effect.ignore)
      if (options.events !== undefined) {
        // Pushed from a socket callback: run on the scope, never awaited there.
        const push = (m: { readonly subject: string; readonly data: Uint8Array }) =>
          Effect.runFork(send({ event: m.subject, data: Buffer.from(m.data).toString("base64") }))
        yield* options.bus.subscribe(options.events, {}, push).pipe(
          Effect.catchAll((e) => Effect.logWarning(`relay: the meeting's events will not follow: ${e.message}`)),
        )
      }
      const maxInFlight = options.maxInFlight ?? 64
      const stats = options.stats ?? { requests: 0, forbidden: 0, bad: 0 }
      let inFlight = 0

      yield* socket
        .runRaw((raw) => {
          const decoded = decodeRequest(typeof raw === "string" ? raw : text.decode(raw))
          if (Either.isLeft(decoded)) {
            stats.bad++
            return send({ id: null, error: { _tag: "BadRequest", detail: decoded.left.message.slice(0, 300) } })
          }
          const request = decoded.right
          if (inFlight >= maxInFlight) {
            return send({ id: request.id, error: { _tag: "Overloaded", detail: `more than ${maxInFlight} requests at once` } })
          }
          inFlight++
          return forward(options.bus, options.policy, request, options.authority).pipe(
            Effect.tap((answer) =>
              Effect.sync(() => void ("error" in answer && answer.error._tag === "Forbidden" ? stats.forbidden++ : stats.requests++)),
            ),
            Effect.flatMap((answer) => send({ id: request.id, ...answer })),
            Effect.ensuring(Effect.sync(() => void inFlight--)),
            Effect.forkScoped,
          )
        })
        .pipe(Effect.ignore)
    }),
  )
