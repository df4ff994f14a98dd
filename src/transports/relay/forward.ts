/**
 * Forwarding one client request onto the ControlBus, as the relay and the
 * tunnel both do: the policy decides whether this request may go to that
 * subject; the answer is the actor's reply bytes, untouched, or why not.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { RelayFailure, RelayPolicy } from "../../protocol/relay.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"

/** What the client is sent back. @category models */
export type Forwarded = { readonly data: string } | { readonly error: RelayFailure }

/** The `_tag` of a JSON-encoded request; "" when there is none. @category inspecting */
export const tagOf = (data: Buffer): string => {
  try {
    return String((JSON.parse(data.toString("utf8")) as { _tag?: unknown })._tag ?? "")
  } catch {
    return ""
  }
}

/** @category forwarding */
export const forward = (
  bus: ControlBusShape,
  policy: RelayPolicy,
  request: { readonly subject: string; readonly data: string; readonly timeoutMs: number },
): Effect.Effect<Forwarded> => {
  const data = Buffer.from(request.data, "base64")
  const tag = tagOf(data)
  if (!policy.allows(request.subject, tag)) {
    return Effect.succeed({ error: { _tag: "Forbidden", detail: `${tag || "this"} may not be sent to ${request.subject}` } })
  }
  return bus.request(request.subject, data, { timeoutMs: request.timeoutMs }).pipe(
    Effect.match({
      onSuccess: (reply): Forwarded => ({ data: Buffer.from(reply.data).toString("base64") }),
      onFailure: (e): Forwarded => ({ error: { _tag: e._tag, detail: e.message } }),
    }),
  )
}
