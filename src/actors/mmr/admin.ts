/**
 * The MMR's questions from operators and other actors, on subjects of their
 * own so that a client's credentials cannot reach them:
 *
 *   admin (controllers, operators)   Drain, MediaCounters, Hosting
 *   view  (the web tier's dashboard) HostedMeetings — read-only: whoever may
 *                                    ask it cannot drain or move anything
 *
 * @since 0.4.0
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import type { Participant } from "../../protocol/mmr.js"
import { MmrAdminProtocol, MmrViewProtocol } from "../../protocol/mmr.js"
import type { Subjects } from "../../protocol/subjects.js"
import type { BusError } from "../../protocol/errors.js"
import * as Actor from "../../runtime/Actor.js"
import type { ControlBus } from "../../runtime/ControlBus.js"
import { hostedMeetings } from "./hosted-view.js"
import type { MediaPlane } from "./media-plane.js"

/** @category constructors */
export const start = (deps: {
  readonly id: string
  readonly name: string
  readonly subjects: Subjects
  readonly meetings: ReadonlyMap<string, ReadonlyMap<string, Participant>>
  readonly plane: MediaPlane | undefined
  readonly drain: (draining: boolean) => Effect.Effect<void>
}): Effect.Effect<void, BusError, ControlBus | Scope.Scope> =>
  Effect.gen(function* () {
    const { id, name, subjects, meetings, plane } = deps
    yield* Actor.start(MmrAdminProtocol, {
      name: `${name} (admin)`,
      listen: [{ subject: subjects.mmrAdmin(id) }],
      behaviour: Effect.succeed({
        Drain: ({ draining }) => Effect.as(deps.drain(draining), { mmr: id, draining, meetings: meetings.size }),
        MediaCounters: () =>
          Effect.sync(() => ({
            counters: { ...(plane?.sfu.counters ?? {}) },
            bindings: plane?.sfu.bindings() ?? { udp: 0, tcp: 0, tls: 0 },
          })),
        Hosting: ({ meeting }) => Effect.sync(() => ({ participants: [...(meetings.get(meeting)?.keys() ?? [])] })),
      }),
    })
    yield* Actor.start(MmrViewProtocol, {
      name: `${name} (view)`,
      listen: [{ subject: subjects.mmrView(id) }],
      behaviour: Effect.succeed({
        HostedMeetings: () => Effect.sync(() => ({ mmr: id, meetings: hostedMeetings(meetings, plane?.sfu) })),
      }),
    })
  })
