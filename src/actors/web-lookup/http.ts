/**
 * The web lookup's HTTP vocabulary: JSON replies, API errors with a code and
 * the failing field, and request bodies decoded against a schema (the first
 * failing field named by its path).
 *
 * @since 0.1.0
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Data, Effect, Either, ParseResult, Schema } from "effect"

export const MAX_BODY = 64 * 1024

// --- responses ---------------------------------------------------------------

export const reply = (status: number, body: unknown) => HttpServerResponse.unsafeJson(body, { status })
export const apiError = (status: number, code: string, message: string, field?: string) =>
  reply(status, { error: { code, message, ...(field !== undefined ? { field } : {}) } })

/** A 400: the first failing field, by path. */
export class BadRequest extends Data.TaggedError("BadRequest")<{ readonly field: string; readonly detail: string }> {}

/** A 429: the client asked too often; `Retry-After` says when it may again (whole seconds, at least 1). */
export const tooMany = (what: string, retryAfterMs: number) =>
  HttpServerResponse.unsafeJson(
    { error: { code: "TooManyRequests", message: `${what}: too many; try again in ${Math.ceil(retryAfterMs / 1000)} s` } },
    { status: 429, headers: { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } },
  )

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export const bearerOf = (request: HttpServerRequest.HttpServerRequest): string | undefined =>
  /^Bearer (\S+)$/.exec(request.headers["authorization"] ?? "")?.[1]

export const decodeOr400 =
  <A, I>(schema: Schema.Schema<A, I, never>, where?: string) =>
  (value: unknown): Effect.Effect<A, BadRequest> =>
    Either.match(Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(value), {
      onRight: Effect.succeed,
      onLeft: (e) => {
        const first = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
        const path = first?.path.map(String).join(".") ?? ""
        const field = where === undefined ? path : path === "" ? where : `${where}.${path}`
        return Effect.fail(new BadRequest({ field: field === "" ? "body" : field, detail: first?.message ?? e.message }))
      },
    })

export const readJsonBody = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const text = yield* request.text.pipe(Effect.mapError(() => new BadRequest({ field: "body", detail: `unreadable or over ${MAX_BODY} bytes` })))
  if (text.trim() === "") return {}
  return yield* Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => new BadRequest({ field: "body", detail: `malformed JSON: ${e instanceof Error ? e.message : String(e)}` }),
  })
})

