/**
 * Phase 2, zone selection, the shell around the pure decision in
 * `zone-selection.ts`: sends the probes (every controller of every zone at
 * once, a few samples each), feeds what comes back to the decision, and does
 * what it says — wait, probe again, choose, or give up at the deadline. All
 * waiting is on Effect's Clock, so the 5.5 s rule runs on a TestClock.
 *
 * @since 0.1.0
 */
import { Clock, Data, Effect, Either, Fiber, Option, Queue } from "effect"
import { Probe } from "../../protocol/controller.js"
import type { ZoneScore } from "../../protocol/join-report.js"
import type { ZoneInfo } from "../../protocol/web-api.js"
import { ask } from "../../runtime/Ask.js"
import type { ControlBusShape } from "../../runtime/ControlBus.js"
import { ControlBus } from "../../runtime/ControlBus.js"
import type { PhaseRecorder } from "./report.js"
import * as Selection from "./zone-selection.js"
import * as ZoneScoring from "./zone-scoring.js"

/** @category models */
export interface ZoneChoice {
  readonly zone: ZoneInfo
  readonly scores: ReadonlyArray<ZoneScore>
  /** Zones that answered, best first (the chosen one first). */
  readonly answered: ReadonlyArray<ZoneInfo>
}

/** No controller answered before the deadline. @category errors */
export class Unreachable extends Data.TaggedError("Unreachable")<{
  readonly scores: ReadonlyArray<ZoneScore>
  readonly elapsedMs: number
}> {
  override get message(): string {
    return `no zone controller answered within ${Math.round(this.elapsedMs)} ms`
  }
}

/**
 * Probes and chooses.
 *
 * @category selection
 */
export const selectZone = (
  zones: ReadonlyArray<ZoneInfo>,
  busOf: (zone: ZoneInfo) => ControlBusShape | undefined,
  options: Selection.SelectionOptions,
  client: string,
  phase: PhaseRecorder,
  /**
   * When zone selection began (Clock millis), when something came before the
   * probes (connecting to NATS, else the relay): the deadline counts from
   * here, so every wait inside zone selection shares the one 5.5 s.
   */
  since?: number,
): Effect.Effect<ZoneChoice, Unreachable> =>
  Effect.gen(function* () {
    const targets: Array<Selection.ZoneTarget> = zones.map((z, rank) => ({
      zone: z.id,
      rank,
      controllers: busOf(z) === undefined ? [] : z.controllers.map((c) => c.id),
    }))
    const scoring = yield* ZoneScoring.current(options.tieMarginMs)
    const results = yield* Queue.unbounded<Selection.Observation>()
    const startedAt = since ?? (yield* Clock.currentTimeMillis)

    const probe = (zone: ZoneInfo, controller: { id: string; subject: string }, round: number, sample: number) =>
      Effect.gen(function* () {
        const sentNs = yield* Clock.currentTimeNanos
        const sentMs = yield* phase.at
        const outcome = yield* ask(controller.subject, new Probe({ client, sample }), {
          timeout: options.probeTimeoutMs,
        }).pipe(Effect.provideService(ControlBus, busOf(zone)!), Effect.either)
        const rttMs = Number((yield* Clock.currentTimeNanos) - sentNs) / 1e6
        const result: Selection.ProbeResult = Either.isRight(outcome)
          ? { _tag: "answered", rttMs }
          : { _tag: "lost", reason: outcome.left._tag }
        phase.record({
          target: `${zone.id}/${controller.id}`,
          action: `probe ${round}.${sample}`,
          startMs: Math.round(sentMs * 100) / 100,
          ms: Math.round(rttMs * 100) / 100,
          outcome: Either.isRight(outcome) ? "ok" : outcome.left._tag === "RequestTimeout" ? "timeout" : "failed",
          ...(Either.isLeft(outcome) ? { detail: outcome.left.message } : {}),
        })
        yield* Queue.offer(results, {
          zone: zone.id,
          controller: controller.id,
          round,
          sample,
          result,
          at: yield* Clock.currentTimeMillis,
        })
      })

    /**
     * A controller's samples one after another: the next as soon as the last
     * is answered, or `sampleSpacingMs` after it was sent if it is slower — a
     * near controller is measured in a few round trips, not in fixed steps.
     */
    const probeController = (zone: ZoneInfo, controller: { id: string; subject: string }, round: number) =>
      Effect.gen(function* () {
        for (let sample = 0; sample < options.samples; sample++) {
          const sent = yield* Effect.forkScoped(probe(zone, controller, round, sample))
          if (sample < options.samples - 1) yield* Fiber.await(sent).pipe(Effect.timeout(options.sampleSpacingMs), Effect.ignore)
        }
      })

    const sendRound = (round: number) =>
      Effect.forEach(
        zones.flatMap((zone) => (busOf(zone) === undefined ? [] : zone.controllers.map((c) => probeController(zone, c, round)))),
        (p) => Effect.forkScoped(p),
        { discard: true },
      )

    let state = Selection.initial(startedAt)
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const decision = Selection.decide(targets, options, state, now)
      switch (decision._tag) {
        case "Wait": {
          const next = yield* Queue.take(results).pipe(Effect.timeout(decision.until - now), Effect.option)
          if (Option.isSome(next)) state = Selection.observe(state, next.value)
          break
        }
        case "ProbeAgain":
          state = Selection.startRound(state, decision.round, Selection.probesPerRound(targets, options))
          yield* sendRound(decision.round)
          break
        case "Chosen": {
          const answered = scoring
            .rank(decision.scores.filter((s) => s.score !== undefined))
            .flatMap((s) => zones.filter((z) => z.id === s.zone))
          // A team's scoring may rule every zone out: that is as good as no answer.
          if (answered.length === 0) return yield* Effect.fail(new Unreachable({ scores: decision.scores, elapsedMs: now - startedAt }))
          return { zone: answered[0]!, scores: decision.scores, answered }
        }
        case "Unreachable":
          return yield* Effect.fail(new Unreachable({ scores: decision.scores, elapsedMs: now - startedAt }))
      }
    }
    // Probes run in this function's own scope: stragglers are interrupted as
    // soon as the choice is made.
  }).pipe(Effect.scoped)
