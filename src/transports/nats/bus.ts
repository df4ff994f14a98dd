/**
 * ControlBus over a NATS connection: subjects, queue groups and headers are
 * NATS's own; request/reply uses one wildcard reply inbox per connection
 * (requests.ts).
 *
 * @since 0.1.0
 */
import type { Msg, MsgHdrs, NatsConnection as NatsConnectionImpl } from "@nats-io/transport-node"
import { headers as natsHeaders, NoRespondersError, RequestError, TimeoutError } from "@nats-io/transport-node"
import { Effect, Layer } from "effect"
import { BusError, NoResponders, RequestTimeout } from "../../protocol/errors.js"
import type { ControlBusShape, Headers, IncomingMessage } from "../../runtime/ControlBus.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { NatsConfig } from "./connection.js"
import { NatsConnection, layer as connectionLayer } from "./connection.js"
import * as Requests from "./requests.js"

/** Frozen header records (the kernel reuses them) are encoded once. */
const frozenHeaders = new WeakMap<Headers, MsgHdrs | undefined>()

const toNatsHeaders = (headers: Headers | undefined): MsgHdrs | undefined => {
  if (headers === undefined) return undefined
  const frozen = Object.isFrozen(headers)
  if (frozen && frozenHeaders.has(headers)) return frozenHeaders.get(headers)
  let h: MsgHdrs | undefined
  for (const name in headers) {
    h ??= natsHeaders()
    h.set(name, headers[name]!)
  }
  if (frozen) frozenHeaders.set(headers, h)
  return h
}

const headerReader =
  (msg: Msg) =>
  (name: string): string | undefined => {
    const h = msg.headers
    if (h === undefined || !h.has(name)) return undefined
    return h.get(name)
  }

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const requestFailure = (subject: string, timeoutMs: number, e: unknown) => {
  if (e instanceof TimeoutError) return new RequestTimeout({ subject, timeoutMs })
  if (e instanceof NoRespondersError) return new NoResponders({ subject })
  if (e instanceof RequestError) {
    if (e.isNoResponders()) return new NoResponders({ subject })
    if (e.cause instanceof TimeoutError) return new RequestTimeout({ subject, timeoutMs })
  }
  return new BusError({ operation: "request", subject, detail: describe(e) })
}

/**
 * Builds the bus over an open connection.
 *
 * @category constructors
 */
export const make = (nc: NatsConnectionImpl): ControlBusShape => {
  const requests = Requests.requester(nc)
  return {
    kind: "nats",

    publish: (subject, data, headers) =>
      Effect.try({
        try: () => {
          const h = toNatsHeaders(headers)
          // nats.js keeps a reference until its next flush; copy so the caller may reuse its buffer.
          nc.publish(subject, data.slice(), h === undefined ? undefined : { headers: h })
        },
        catch: (e) => new BusError({ operation: "publish", subject, detail: describe(e) }),
      }),

    request: (subject, data, { timeoutMs, headers }) =>
      Effect.async((resume) => {
        const h = toNatsHeaders(headers)
        // An interrupted asker is forgotten; its answer, if one comes, is dropped.
        return Effect.sync(
          requests.request(subject, data.slice(), timeoutMs, h, (outcome) => {
            switch (outcome._tag) {
              case "Reply":
                return resume(Effect.succeed({ subject: outcome.msg.subject, data: outcome.msg.data, header: headerReader(outcome.msg) }))
              case "Timeout":
                return resume(Effect.fail(new RequestTimeout({ subject, timeoutMs })))
              case "NoResponders":
                return resume(Effect.fail(new NoResponders({ subject })))
              case "Failed":
                return resume(Effect.fail(requestFailure(subject, timeoutMs, outcome.error)))
            }
          }),
        )
      }),

    subscribe: (subject, options, onMessage) =>
      Effect.gen(function* () {
        // Messages are stamped on the subscriber's Clock, the one its deadline checks read.
        const clock = yield* Effect.clock
        yield* Effect.acquireRelease(
          Effect.try({
            try: () =>
              nc.subscribe(subject, {
                ...(options.queue !== undefined ? { queue: options.queue } : {}),
                callback: (err, msg) => {
                  if (err !== null) return
                  const incoming: IncomingMessage = {
                    subject: msg.subject,
                    data: msg.data,
                    receivedAt: clock.unsafeCurrentTimeMillis(),
                    reply: msg.reply === "" ? undefined : msg.reply,
                    header: headerReader(msg),
                    respond: (data, headers) => {
                      const h = toNatsHeaders(headers)
                      try {
                        return msg.respond(data.slice(), h === undefined ? undefined : { headers: h })
                      } catch {
                        // Connection closed or draining: the asker will time out, as over any network.
                        return false
                      }
                    },
                  }
                  onMessage(incoming)
                },
              }),
            catch: (e) => new BusError({ operation: "subscribe", subject, detail: describe(e) }),
          }),
          (sub) => Effect.sync(() => sub.unsubscribe()),
        )
        // The server must know the subscription before anyone is told it exists.
        yield* Effect.tryPromise({
          try: () => nc.flush(),
          catch: (e) => new BusError({ operation: "subscribe", subject, detail: describe(e) }),
        })
      }),

    flush: Effect.tryPromise({
      try: () => nc.flush(),
      catch: (e) => new BusError({ operation: "flush", detail: describe(e) }),
    }),
    // Resolves once the new connection is up (or rejects when closed or draining: nothing to do then).
    reconnect: Effect.ignore(Effect.tryPromise(() => nc.reconnect())),
  }
}

/**
 * The bus over the process's NatsConnection.
 *
 * @category layers
 */
export const layerFromConnection: Layer.Layer<ControlBus, never, NatsConnection> = Layer.effect(
  ControlBus,
  Effect.map(NatsConnection, make),
)

/**
 * Connection and bus in one layer; the connection is shared with anything else
 * that needs NatsConnection (e.g. the KeyValue layer).
 *
 * @category layers
 */
export const layer = (config: NatsConfig): Layer.Layer<ControlBus | NatsConnection, BusError> =>
  Layer.provideMerge(layerFromConnection, connectionLayer(config))
