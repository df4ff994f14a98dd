/**
 * The one place where control messages become bytes and bytes become checked
 * values. A Codec turns plain values (a Schema's encoded side) into bytes and
 * back; a MessageCodec adds the Schema on top, compiled once per schema.
 * Swapping JSON for a binary codec means providing another Codec here.
 *
 * @since 0.1.0
 */
import { Either, ParseResult, Schema } from "effect"

/**
 * Bytes ⇄ plain values. `decode` throws on malformed bytes; MessageCodec turns
 * that into a typed issue.
 *
 * @category models
 */
export interface Codec {
  readonly contentType: string
  readonly encode: (value: unknown) => Uint8Array
  readonly decode: (bytes: Uint8Array) => unknown
}

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * JSON in UTF-8: readable with any NATS tool, which matters while debugging a
 * live system more than the bytes a binary codec would save.
 *
 * @category codecs
 */
export const json: Codec = {
  contentType: "application/json",
  encode: (value) => utf8Encoder.encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(utf8Decoder.decode(bytes)),
}

/**
 * A schema bound to a codec: typed values ⇄ bytes.
 *
 * @category models
 */
export interface MessageCodec<A> {
  readonly encode: (value: A) => Uint8Array
  /** Left carries a human-readable issue naming the offending path. */
  readonly decode: (bytes: Uint8Array) => Either.Either<A, string>
  /** Checks an already-parsed plain value (e.g. one field of an envelope). */
  readonly decodeValue: (value: unknown) => Either.Either<A, string>
  readonly encodeValue: (value: A) => unknown
}

/**
 * Formats a Schema issue as one line per failing path, e.g.
 * `zone: Expected string, actual 42`.
 *
 * @category formatting
 */
export const formatIssue = (issue: ParseResult.ParseIssue): string =>
  ParseResult.ArrayFormatter.formatIssueSync(issue)
    .map((e) => (e.path.length > 0 ? `${e.path.join(".")}: ${e.message}` : e.message))
    .join("; ")

/**
 * Bytes → a checked value: `codec` parses, `decodeValue` checks. Malformed
 * bytes are an issue like any other, never a throw.
 *
 * @category codecs
 */
export const decodeBytes = <A>(
  codec: Codec,
  bytes: Uint8Array,
  decodeValue: (plain: unknown) => Either.Either<A, string>,
): Either.Either<A, string> => {
  let plain: unknown
  try {
    plain = codec.decode(bytes)
  } catch (e) {
    return Either.left(`malformed ${codec.contentType}: ${e instanceof Error ? e.message : String(e)}`)
  }
  return decodeValue(plain)
}

const cache = new WeakMap<object, MessageCodec<any>>()

/**
 * Compiles `schema` with `codec` (JSON by default). Compiled codecs are cached
 * per schema, so calling this on a hot path costs a map lookup.
 *
 * @category constructors
 */
export const messageCodec = <A, I>(schema: Schema.Schema<A, I, never>, codec: Codec = json): MessageCodec<A> => {
  if (codec === json) {
    const hit = cache.get(schema)
    if (hit !== undefined) return hit
  }
  const decodeEither = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })
  const encodeSync = Schema.encodeSync(schema)
  const decodeValue = (value: unknown): Either.Either<A, string> =>
    Either.mapLeft(decodeEither(value), (e) => formatIssue(e.issue))
  const compiled: MessageCodec<A> = {
    encodeValue: encodeSync,
    encode: (value) => codec.encode(encodeSync(value)),
    decodeValue,
    decode: (bytes) => decodeBytes(codec, bytes, decodeValue),
  }
  if (codec === json) cache.set(schema, compiled)
  return compiled
}
