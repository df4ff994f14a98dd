/**
 * GET /ops/api/state: what the operators' dashboard shows — zones with their
 * controllers and MMRs (load, meetings placed there), tunnels, placements,
 * the meetings people are in (each live MMR asked on its read-only view
 * subject, 500 ms each, all at once: one that does not answer is shown as
 * such, not waited for), the placements nobody is in, and recent joins.
 * Only with the operator token (Bearer); without one configured, the
 * dashboard is off.
 *
 * @since 0.1.0
 */
import { timingSafeEqual } from "node:crypto"
import { HttpServerRequest } from "@effect/platform"
import { Effect, Option } from "effect"
import type { Placement } from "../../protocol/meeting.js"
import type { HostedMeeting } from "../../protocol/mmr.js"
import { HostedMeetings } from "../../protocol/mmr.js"
import type { Subjects } from "../../protocol/subjects.js"
import type { OpsMeeting, OpsState } from "../../protocol/web-api.js"
import { ask } from "../../runtime/Ask.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import type { PresenceView } from "../presence-view.js"
import type { Stores } from "../stores.js"
import { apiError, bearerOf, reply } from "./http.js"
import type { JoinLog } from "./join-log.js"
import * as Meetings from "./meetings.js"

const ASK_TIMEOUT = "500 millis"

/** @category routes */
export const state = (deps: {
  readonly id: string
  readonly zones: ReadonlyArray<{ readonly id: string; readonly name: string }>
  readonly opsToken: string | undefined
  readonly stores: Stores
  readonly presence: PresenceView
  readonly joins: JoinLog
  readonly subjects: Subjects
  readonly bus: ControlBusShape
}) => {
  /** What an MMR says it hosts, or none when it did not answer in time. */
  const hostedBy = (mmr: string) =>
    ask(deps.subjects.mmrView(mmr), new HostedMeetings(), { timeout: ASK_TIMEOUT }).pipe(
      Effect.map((r) => new Map(r.meetings.map((m) => [m.meeting, m] as const))),
      Effect.option,
      Effect.provideService(ControlBus, deps.bus),
    )
  const meetingViews = (placements: ReadonlyArray<Placement>, live: ReadonlySet<string>) =>
    Effect.gen(function* () {
      const mmrs = [...new Set(placements.map((p) => p.mmr))].filter((m) => live.has(m))
      const answers = new Map(yield* Effect.forEach(mmrs, (m) => Effect.map(hostedBy(m), (a) => [m, a] as const), { concurrency: "unbounded" }))
      const meetings: Array<OpsMeeting> = []
      const idle: Array<Placement> = []
      for (const p of placements) {
        const answer = answers.get(p.mmr)
        // An MMR no longer alive hosts nobody; one that is alive and silent is not known.
        const hosted: Option.Option<HostedMeeting | undefined> = answer === undefined ? Option.some(undefined) : Option.map(answer, (a) => a.get(p.meeting))
        if (Option.isSome(hosted) && (hosted.value?.participants.length ?? 0) === 0) {
          idle.push(p)
          continue
        }
        const meeting = yield* Meetings.find(deps.stores, p.meeting).pipe(Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))
        meetings.push({
          id: p.meeting,
          ...(meeting !== undefined ? { topic: meeting.topic, createdAt: meeting.createdAt } : {}),
          zone: p.zone,
          mmr: p.mmr,
          answered: Option.isSome(hosted),
          participants: (Option.getOrUndefined(hosted)?.participants ?? []).map((participant) => {
            const path = deps.joins.pathOf(p.meeting, participant.id)
            return path === undefined ? participant : { ...participant, path }
          }),
        })
      }
      return { meetings, idle }
    })

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
    const live = new Set(zones.flatMap((z) => z.mmrs.map((m) => m.mmr)))
    const state: OpsState = {
      web: deps.id,
      at: Date.now(),
      zones,
      tunnels: yield* deps.presence.tunnels,
      placements,
      ...(yield* meetingViews(placements, live)),
      joins: deps.joins.recent(),
    }
    return reply(200, state)
  })
}
