/**
 * GET /ops/api/state: what the operators' dashboard shows — zones with their
 * controllers and MMRs (load, meetings placed there), tunnels, placements
 * and recent joins. Only with the operator token (Bearer); without one
 * configured, the dashboard is off.
 *
 * @since 0.1.0
 */
import { timingSafeEqual } from "node:crypto"
import { HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import type { OpsState } from "../../protocol/web-api.js"
import type { PresenceView } from "../presence-view.js"
import type { Stores } from "../stores.js"
import { apiError, bearerOf, reply } from "./http.js"
import type { JoinLog } from "./join-log.js"

/** @category routes */
export const state = (deps: {
  readonly id: string
  readonly zones: ReadonlyArray<{ readonly id: string; readonly name: string }>
  readonly opsToken: string | undefined
  readonly stores: Stores
  readonly presence: PresenceView
  readonly joins: JoinLog
}) => {
  const opsToken = deps.opsToken === undefined ? undefined : Buffer.from(deps.opsToken)
  const authorized = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    const given = Buffer.from(bearerOf(request) ?? "")
    return opsToken !== undefined && given.length === opsToken.length && timingSafeEqual(given, opsToken)
  })
  return Effect.gen(function* () {
    if (opsToken === undefined) return apiError(404, "NotFound", "the dashboard is off: no operator token is configured")
    if (!(yield* authorized)) return apiError(401, "Unauthorized", "an operator token is needed (Authorization: Bearer …)")
    const placements = (yield* deps.stores.placements.values().pipe(Effect.orElseSucceed(() => []))).map((p) => p.value)
    const hosting = (mmr: string) => placements.filter((p) => p.mmr === mmr).map((p) => p.meeting)
    const zones = yield* Effect.forEach(deps.zones, (z) =>
      Effect.all({ controllers: deps.presence.controllers(z.id), mmrs: deps.presence.mmrs(z.id) }).pipe(
        Effect.map(({ controllers, mmrs }) => ({
          id: z.id,
          name: z.name,
          controllers,
          mmrs: mmrs.map((m) => ({ ...m, hosting: hosting(m.mmr) })),
        })),
      ),
    )
    const state: OpsState = {
      web: deps.id,
      at: Date.now(),
      zones,
      tunnels: yield* deps.presence.tunnels,
      placements,
      joins: deps.joins.recent(),
    }
    return reply(200, state)
  })
}
