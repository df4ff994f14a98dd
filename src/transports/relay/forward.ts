/**
 * Forwarding one client request onto the ControlBus, as the relay and the
 * tunnel both do: the policy decides whether this request may go to that
 * subject, the connection's join token whether it may name that meeting and
 * participant. The request goes on framed by the relay (its own timeout, the
 * token's join as correlation id, whatever the client's frame said); the
 * answer is the actor's reply bytes, untouched, or why not.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as RequestFrame from "../../protocol/request-frame.js"
import type { RelayFailure, RelayPolicy } from "../../protocol/relay.js"
import type { JoinClaims } from "../../protocol/token.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"

/** What the client is sent back. @category models */
export type Forwarded = { readonly data: string } | { readonly error: RelayFailure }

/** A request's JSON text (behind its frame, if it has one) and its fields; fields undefined when it is not a JSON object. */
const read = (data: Buffer): { readonly text: string; readonly fields: Record<string, unknown> | undefined } | undefined => {
  const body = RequestFrame.bodyOf(data)
  if (body === undefined) return undefined
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8")
  try {
    const value: unknown = JSON.parse(text)
    return { text, fields: typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined }
  } catch {
    return { text, fields: undefined }
  }
}

const fieldsOf = (data: Buffer): Record<string, unknown> | undefined => read(data)?.fields

/** The `_tag` of a JSON-encoded request; "" when there is none. @category inspecting */
export const tagOf = (data: Buffer): string => String(fieldsOf(data)?.["_tag"] ?? "")

/** Who is asking: the join token the connection presented, and what it says. @category models */
export interface Authority {
  readonly token: string
  readonly claims: JoinClaims
}

/**
 * Why `fields` asks for more than `authority` allows, or undefined: a
 * request names only the token's own meeting and participant, and carries
 * the connection's own token.
 *
 * @category checking
 */
export const overreach = (fields: Record<string, unknown>, authority: Authority): string | undefined => {
  if ("meeting" in fields && fields["meeting"] !== authority.claims.meeting) return `meeting ${String(fields["meeting"])} is not this join's`
  if ("participant" in fields && fields["participant"] !== authority.claims.participant) return `participant ${String(fields["participant"])} is not this join's`
  if ("token" in fields && fields["token"] !== authority.token) return "the request carries another join token than this connection's"
  return undefined
}

/** @category forwarding */
export const forward = (
  bus: ControlBusShape,
  policy: RelayPolicy,
  request: { readonly subject: string; readonly data: string; readonly timeoutMs: number },
  authority: Authority,
): Effect.Effect<Forwarded> => {
  const data = Buffer.from(request.data, "base64")
  const parsed = read(data)
  if (parsed === undefined) return Effect.succeed({ error: { _tag: "BadRequest", detail: "a malformed request frame" } })
  const fields = parsed.fields ?? {}
  const tag = String(fields["_tag"] ?? "")
  if (!policy.allows(request.subject, tag)) {
    return Effect.succeed({ error: { _tag: "Forbidden", detail: `${tag || "this"} may not be sent to ${request.subject}` } })
  }
  const beyond = overreach(fields, authority)
  if (beyond !== undefined) return Effect.succeed({ error: { _tag: "Forbidden", detail: `${tag}: ${beyond}` } })
  // Framed again here: the timeout is the one the relay waits, and the correlation id is the token's join, not
  // whatever the client wrote (it names work in the actors' logs and traces).
  const framed = RequestFrame.encode(parsed.text, request.timeoutMs, `join-${authority.claims.participant}`)
  return bus.request(request.subject, framed, { timeoutMs: request.timeoutMs }).pipe(
    Effect.match({
      onSuccess: (reply): Forwarded => ({ data: Buffer.from(reply.data).toString("base64") }),
      onFailure: (e): Forwarded => ({ error: { _tag: e._tag, detail: e.message } }),
    }),
  )
}
