/**
 * A live view of the presence bucket: who is up, kept current by a watch
 * rather than a scan per question. JetStream does not announce expiry, so a
 * record counts as live only while younger (by this process's clock) than
 * the presence TTL; owners renew every second.
 *
 * @since 0.1.0
 */
import type { Duration, Scope } from "effect"
import { Clock, Duration as D, Effect, Option, Schedule, Stream } from "effect"
import type { ControllerPresence, MmrLoad, Presence, TunnelPresence } from "../protocol/zone.js"
import type { Stores } from "./stores.js"

/** @category models */
export interface PresenceView {
  readonly controllers: (zone: string) => Effect.Effect<ReadonlyArray<ControllerPresence>>
  readonly mmrs: (zone?: string) => Effect.Effect<ReadonlyArray<MmrLoad>>
  readonly tunnels: Effect.Effect<ReadonlyArray<TunnelPresence>>
}

/**
 * Watches presence for the life of the scope.
 *
 * @category constructors
 */
export const watch = (stores: Stores, ttl: Duration.DurationInput): Effect.Effect<PresenceView, never, Scope.Scope> =>
  Effect.gen(function* () {
    const ttlMs = D.toMillis(ttl)
    const records = new Map<string, { readonly value: Presence; readonly seenAt: number }>()
    // A scan first, so the view is complete before its first question.
    const seededAt = yield* Clock.currentTimeMillis
    for (const { key, value } of yield* stores.presence.values().pipe(Effect.orElseSucceed(() => []))) {
      records.set(key, { value, seenAt: seededAt })
    }
    const follow = stores.presence.watch().pipe(
      Stream.runForEach((change) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (Option.isSome(change.value)) records.set(change.key, { value: change.value.value, seenAt: now })
          else records.delete(change.key)
        }),
      ),
    )
    // A watch ends or fails when its server goes away (a node of the cluster dies, the connection drops):
    // watch again, with backoff, for as long as the view lives. A new watch replays what is there.
    yield* follow.pipe(
      Effect.zipRight(Effect.logWarning("presence watch ended; watching again")),
      Effect.catchAllCause((cause) => Effect.logWarning("presence watch failed; watching again", cause)),
      Effect.repeat(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")), Schedule.jittered)),
      Effect.forkScoped,
    )
    const live = Effect.map(Clock.currentTimeMillis, (now) => {
      const out: Array<Presence> = []
      for (const [key, record] of records) {
        if (now - record.seenAt <= ttlMs) out.push(record.value)
        else records.delete(key)
      }
      return out
    })
    return {
      controllers: (zone) =>
        Effect.map(live, (all) => all.filter((p): p is ControllerPresence => p.kind === "controller" && p.zone === zone)),
      mmrs: (zone) =>
        Effect.map(live, (all) =>
          all.flatMap((p) => (p.kind === "mmr" && (zone === undefined || p.load.zone === zone) ? [p.load] : [])),
        ),
      tunnels: Effect.map(live, (all) => all.filter((p): p is TunnelPresence => p.kind === "tunnel")),
    }
  })
