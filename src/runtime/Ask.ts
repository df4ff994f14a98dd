/**
 * Talking to actors: `ask` sends a request and reads the typed reply; `tell`
 * sends one and does not wait.
 *
 * The error channel of `ask` is the request's own declared failures plus
 * `AskError`: `RequestTimeout`, `NoResponders`, `DecodeError` (either side
 * could not read the other), `RemoteError` (the actor failed outside its
 * protocol) and `BusError`.
 *
 * @since 0.1.0
 */
import type { Schema } from "effect"
import { Context, Duration, Effect, Either, FiberRef, Option, Schedule } from "effect"
import { json, messageCodec } from "../protocol/codec.js"
import type { MessageCodec } from "../protocol/codec.js"
import { decodeEnvelope } from "../protocol/envelope.js"
import * as RequestFrame from "../protocol/request-frame.js"
import type { AskError } from "../protocol/errors.js"
import { BusError, DecodeError, KernelReplyError } from "../protocol/errors.js"
import type { Headers, ReplyMessage } from "./ControlBus.js"
import { ControlBus } from "./ControlBus.js"
import { currentCorrelationId } from "./Correlation.js"
import type { Failure, RequestClass, ResultCodecs, Success } from "../protocol/Protocol.js"
import { resultCodecs } from "../protocol/Protocol.js"

/**
 * Where an actor listens: a subject, or anything that names one.
 *
 * @category models
 */
export type Address = string | { readonly subject: string }

const subjectOf = (address: Address): string => (typeof address === "string" ? address : address.subject)

/**
 * Errors worth asking again for: nobody answered (yet), or the actor was busy
 * or stopping. A decode error or a declared failure would only repeat.
 *
 * @category models
 */
export const isTransient = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return false
  switch ((error as { _tag: string })._tag) {
    case "RequestTimeout":
    case "NoResponders":
    case "BusError":
      return true
    case "RemoteError":
      return (error as unknown as { reason: string }).reason !== "defect"
    default:
      return false
  }
}

/**
 * @category models
 */
export interface AskOptions {
  /** How long to wait for each attempt's reply. Default 2 s. */
  readonly timeout?: Duration.DurationInput
  /** Asks again on transient errors (see `isTransient`) while the schedule goes on. */
  readonly retry?: Schedule.Schedule<unknown, AskError>
  /** Extra message headers. The timeout and the fiber's correlation id travel in the request's frame. */
  readonly headers?: Headers
}

interface RequestCodecs extends ResultCodecs {
  readonly request: MessageCodec<Schema.TaggedRequest.All>
}

const codecCache = new WeakMap<object, RequestCodecs>()

const codecsOf = (request: Schema.TaggedRequest.All): RequestCodecs => {
  const requestClass = request.constructor as unknown as RequestClass
  let hit = codecCache.get(requestClass)
  if (hit === undefined) {
    hit = { request: messageCodec(requestClass), ...resultCodecs(requestClass) }
    codecCache.set(requestClass, hit)
  }
  return hit
}

const kernelErrors = messageCodec(KernelReplyError)

// Parsing "2 seconds" on every ask showed in the profile: the default is a number, written durations are read once.
const DEFAULT_TIMEOUT_MS = 2000
const parsedTimeouts = new Map<string, number>()
const timeoutMsOf = (timeout: Duration.DurationInput | undefined): number => {
  if (timeout === undefined) return DEFAULT_TIMEOUT_MS
  if (typeof timeout !== "string") return Math.max(1, Math.round(Duration.toMillis(timeout)))
  let ms = parsedTimeouts.get(timeout)
  if (ms === undefined) {
    ms = Math.max(1, Math.round(Duration.toMillis(timeout)))
    if (parsedTimeouts.size < 1024) parsedTimeouts.set(timeout, ms)
  }
  return ms
}

const replyDecodeError = (subject: string, issue: string) => new DecodeError({ subject, side: "reply", issue })

/**
 * Reads a reply envelope into the request's success, its declared failure,
 * or a kernel error.
 *
 * @category internals
 */
export const readReply = (subject: string, reply: ReplyMessage, results: ResultCodecs): Effect.Effect<unknown, unknown> => {
  const envelope = decodeEnvelope(json, reply.data)
  if (envelope === undefined) return Effect.fail(replyDecodeError(subject, "not a reply envelope"))
  switch (envelope.kind) {
    case "ok": {
      const value = results.success.decodeValue(envelope.value)
      return Either.isRight(value) ? Effect.succeed(value.right) : Effect.fail(replyDecodeError(subject, value.left))
    }
    case "fail": {
      const value = results.failure.decodeValue(envelope.value)
      return Effect.fail(Either.isRight(value) ? value.right : replyDecodeError(subject, value.left))
    }
    case "error": {
      const value = kernelErrors.decodeValue(envelope.value)
      return Effect.fail(Either.isRight(value) ? value.right : replyDecodeError(subject, value.left))
    }
  }
}

/** The request as JSON text (framed per send, with the timeout and correlation id). */
const encodeRequest = (subject: string, request: Schema.TaggedRequest.All, codec: MessageCodec<Schema.TaggedRequest.All>) =>
  Either.try({
    try: () => JSON.stringify(codec.encodeValue(request)),
    catch: (e) => new BusError({ operation: "encode", subject, detail: `request does not match its schema: ${String(e)}` }),
  })

/**
 * Asks the actor at `address` and waits for its typed reply.
 *
 * @category messaging
 */
export const ask = <Req extends Schema.TaggedRequest.All>(
  address: Address,
  request: Req,
  options?: AskOptions,
): Effect.Effect<Success<Req>, Failure<Req> | AskError, ControlBus> => {
  const subject = subjectOf(address)
  const codecs = codecsOf(request)
  const timeoutMs = timeoutMsOf(options?.timeout)
  const data = encodeRequest(subject, request, codecs.request)
  // One look at the fiber for both the bus and the correlation id: ask is the hot path.
  const once = Effect.withFiberRuntime<unknown, unknown, ControlBus>((fiber) => {
    if (Either.isLeft(data)) return Effect.fail(data.left)
    const bus = Context.get(fiber.currentContext as Context.Context<ControlBus>, ControlBus)
    const correlation = fiber.getFiberRef(currentCorrelationId)
    // The timeout and correlation id travel in the request's frame, not in NATS headers (request-frame.ts).
    const bytes = RequestFrame.encode(data.right, timeoutMs, Option.getOrUndefined(correlation))
    return Effect.flatMap(bus.request(subject, bytes, options?.headers === undefined ? { timeoutMs } : { timeoutMs, headers: options.headers }), (reply) =>
      readReply(subject, reply, codecs),
    )
  }) as Effect.Effect<Success<Req>, Failure<Req> | AskError, ControlBus>
  if (options?.retry === undefined) return once
  return Effect.retry(once, { schedule: options.retry as Schedule.Schedule<unknown, unknown>, while: isTransient })
}

/**
 * Sends `request` to the actor at `address` without waiting; the actor runs
 * its behaviour and answers no one.
 *
 * @category messaging
 */
export const tell = <Req extends Schema.TaggedRequest.All>(
  address: Address,
  request: Req,
): Effect.Effect<void, BusError, ControlBus> => {
  const subject = subjectOf(address)
  return Effect.flatMap(ControlBus, (bus) =>
    Effect.flatMap(FiberRef.get(currentCorrelationId), (correlation) => {
      const data = encodeRequest(subject, request, codecsOf(request).request)
      if (Either.isLeft(data)) return Effect.fail(data.left)
      return bus.publish(subject, RequestFrame.encode(data.right, undefined, Option.getOrUndefined(correlation)))
    }),
  )
}
