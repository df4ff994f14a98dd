/**
 * An actor's protocol: the requests it takes, each a `Schema.TaggedRequest`
 * class that names its payload, its success and its declared failures. The
 * same classes are used by the actor (to decode and to answer) and by whoever
 * asks it (to encode and to read the answer), so both sides agree by
 * construction.
 *
 * ```ts
 * class Probe extends Schema.TaggedRequest<Probe>()("Probe", {
 *   payload: { sentAt: Schema.Number },
 *   success: ProbeReply,
 *   failure: Schema.Never,
 * }) {}
 * const ControllerProtocol = Protocol.make("zone-controller", Probe, Assign)
 * ```
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { Either, Schema } from "effect"
import type { Codec, MessageCodec } from "./codec.js"
import { decodeBytes, json, messageCodec } from "./codec.js"

/**
 * A request class made with `Schema.TaggedRequest`, context-free on the wire.
 *
 * @category models
 */
export interface RequestClass<Req extends Schema.TaggedRequest.All = Schema.TaggedRequest.All>
  extends Schema.Schema<Req, any, never> {
  readonly _tag: Req["_tag"]
  readonly fields: Schema.Struct.Fields
  readonly success: Schema.Schema.All
  readonly failure: Schema.Schema.All
}

/** Success type of a request. @category models */
export type Success<Req> = Schema.WithResult.Success<Req>
/** Declared failure type of a request. @category models */
export type Failure<Req> = Schema.WithResult.Failure<Req>

/**
 * What a behaviour sees of the message besides its payload.
 *
 * @category models
 */
export interface MessageContext {
  readonly subject: string
  /** Propagated from the asker (`Mz-Correlation`), e.g. one join's id. */
  readonly correlationId: string | undefined
  /** Epoch ms after which the asker no longer waits, when it said so. */
  readonly deadline: number | undefined
  readonly header: (name: string) => string | undefined
}

/**
 * One behaviour per request tag. Each answers with the request's own success
 * type or fails with one of its declared failures; anything else (a thrown
 * exception, a `die`) is a defect and restarts the actor.
 *
 * @category models
 */
export type Handlers<Req extends Schema.TaggedRequest.All, R = never> = {
  readonly [K in Req["_tag"]]: (
    request: Extract<Req, { readonly _tag: K }>,
    context: MessageContext,
  ) => Effect.Effect<Success<Extract<Req, { readonly _tag: K }>>, Failure<Extract<Req, { readonly _tag: K }>>, R>
}

/**
 * Per-tag result codecs, compiled once.
 *
 * @category models
 */
export interface ResultCodecs {
  readonly success: MessageCodec<unknown>
  readonly failure: MessageCodec<unknown>
}

/**
 * @category models
 */
export interface Protocol<Req extends Schema.TaggedRequest.All> {
  readonly name: string
  readonly tags: ReadonlyArray<Req["_tag"]>
  /** Decodes any request of the protocol (a union discriminated by `_tag`). */
  readonly requests: MessageCodec<Req>
  readonly results: ReadonlyMap<string, ResultCodecs>
  readonly codec: Codec
}

const resultCache = new WeakMap<object, ResultCodecs>()

/**
 * Success and failure codecs of one request class, compiled once.
 *
 * @category codecs
 */
export const resultCodecs = (requestClass: RequestClass): ResultCodecs => {
  let hit = resultCache.get(requestClass)
  if (hit === undefined) {
    // Protocols are context-free on the wire (RequestClass says so), hence the casts.
    hit = {
      success: messageCodec(requestClass.success as Schema.Schema<unknown, unknown, never>),
      failure: messageCodec(requestClass.failure as Schema.Schema<unknown, unknown, never>),
    }
    resultCache.set(requestClass, hit)
  }
  return hit
}

/**
 * Decodes any request of `requests`: dispatch on `_tag`, check the fields with
 * the class's plain struct schema, then give the result the class's prototype.
 * That is what the class constructor does for a TaggedRequest (fields plus
 * prototype), at a third of the cost — it runs for every message an actor
 * takes. Request classes must therefore not define constructors of their own.
 */
const requestDecoder = <Req extends Schema.TaggedRequest.All>(
  name: string,
  requests: ReadonlyArray<RequestClass<any>>,
  codec: Codec,
): MessageCodec<Req> => {
  const byTag = new Map(
    requests.map((r) => [
      r._tag as string,
      {
        prototype: (r as unknown as { prototype: object }).prototype,
        fields: messageCodec(Schema.Struct(r.fields) as unknown as Schema.Schema<object, unknown, never>),
      },
    ]),
  )
  const expected = [...byTag.keys()].map((t) => `"${t}"`).join(", ")
  const union = messageCodec(
    (requests.length === 1 ? requests[0]! : Schema.Union(...requests)) as Schema.Schema<Req, any, never>,
    codec,
  )
  const decodeValue = (plain: unknown): Either.Either<Req, string> => {
    const tag = typeof plain === "object" && plain !== null ? (plain as { _tag?: unknown })._tag : undefined
    const entry = typeof tag === "string" ? byTag.get(tag) : undefined
    if (entry === undefined) {
      return Either.left(`_tag: ${name} takes ${expected}; got ${tag === undefined ? "no _tag" : JSON.stringify(tag)}`)
    }
    return Either.map(entry.fields.decodeValue(plain), (fields) => Object.assign(Object.create(entry.prototype), fields) as Req)
  }
  return {
    encode: union.encode,
    encodeValue: union.encodeValue,
    decodeValue,
    decode: (bytes) => decodeBytes(codec, bytes, decodeValue),
  }
}

/**
 * Declares a protocol from its request classes.
 *
 * @category constructors
 */
export const make = <const Classes extends ReadonlyArray<RequestClass<any>>>(
  name: string,
  ...requests: Classes
): Protocol<Schema.Schema.Type<Classes[number]>> => {
  if (requests.length === 0) throw new Error(`protocol ${name} has no requests`)
  const tags = requests.map((r) => r._tag)
  if (new Set(tags).size !== tags.length) throw new Error(`protocol ${name} repeats a request tag: ${tags.join(", ")}`)
  return {
    name,
    tags,
    requests: requestDecoder(name, requests, json),
    results: new Map(requests.map((r) => [r._tag as string, resultCodecs(r)])),
    codec: json,
  }
}
