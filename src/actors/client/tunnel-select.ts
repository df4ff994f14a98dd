/**
 * The tunnel race, the shell around `tunnel-decision.ts`: every tunnel
 * pinged at once, the first to answer kept, the others closed (or
 * interrupted), the whole bounded by the timeout — all on Effect's Clock.
 *
 * @since 0.1.0
 */
import { Clock, Data, Effect, Fiber, Queue } from "effect"
import type { PhaseRecorder } from "./report.js"
import * as TunnelDecision from "./tunnel-decision.js"

/** @category errors */
export class NoTunnel extends Data.TaggedError("NoTunnel")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/**
 * Pings every tunnel in `urls` with `connect`; the first to answer wins.
 *
 * @category selection
 */
export const select = <C extends { readonly close: () => void }, E extends { readonly message: string }>(
  urls: ReadonlyArray<string>,
  connect: (url: string) => Effect.Effect<C, E>,
  timeoutMs: number,
  phase: PhaseRecorder,
): Effect.Effect<C, NoTunnel> =>
  Effect.gen(function* () {
    const startedAt = yield* Clock.currentTimeMillis
    const begun = yield* phase.at
    const outcomes: Array<TunnelDecision.PingOutcome> = []
    const connected = new Map<string, C>()
    const arrived = yield* Queue.unbounded<void>()
    const fibers = yield* Effect.forEach(urls, (url) =>
      Effect.forkDaemon(
        Effect.gen(function* () {
          const begin = yield* phase.at
          const result = yield* Effect.either(connect(url))
          const at = yield* Clock.currentTimeMillis
          const end = yield* phase.at
          if (result._tag === "Right") connected.set(url, result.right)
          outcomes.push({ tunnel: url, ok: result._tag === "Right", at })
          phase.record({
            target: url,
            action: "ping",
            startMs: Math.round(begin * 100) / 100,
            ms: Math.round((end - begin) * 100) / 100,
            outcome: result._tag === "Right" ? "ok" : "failed",
            ...(result._tag === "Left" ? { detail: result.left.message } : {}),
          })
          yield* Queue.offer(arrived, undefined)
        }),
      ),
    )
    const finish = (keep: string | undefined) =>
      Effect.gen(function* () {
        yield* Fiber.interruptAll(fibers)
        for (const [url, c] of connected) if (url !== keep) c.close()
        // Pings still out lost the race: they belong in the report too.
        const end = yield* phase.at
        for (const url of urls) {
          if (outcomes.some((o) => o.tunnel === url)) continue
          phase.record({
            target: url,
            action: "ping",
            startMs: Math.round(begun * 100) / 100,
            ms: Math.round((end - begun) * 100) / 100,
            outcome: keep !== undefined ? "skipped" : "timeout",
            detail: keep !== undefined ? `${keep} answered first` : "no answer in time",
          })
        }
      })

    // Answers in the same millisecond are a tie, which the tunnel listed first wins: before choosing,
    // one millisecond for the others of that instant to report (a ping's fiber may run after the chooser's).
    let tieWaited = false
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const decision = TunnelDecision.decide(urls, outcomes, startedAt, now, timeoutMs)
      switch (decision._tag) {
        case "Chosen":
          if (!tieWaited && outcomes.length < urls.length) {
            tieWaited = true
            yield* Effect.sleep(1)
            continue
          }
          yield* finish(decision.tunnel)
          return connected.get(decision.tunnel)!
        case "Failed":
          yield* finish(undefined)
          return yield* new NoTunnel({ reason: decision.reason })
        case "Wait":
          yield* Queue.take(arrived).pipe(Effect.timeout(decision.until - now), Effect.option, Effect.asVoid)
      }
    }
  })
