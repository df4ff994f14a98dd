/**
 * Records a join as it happens, for the join report: phases, attempts, times
 * (ms since the join began, on Effect's Clock so a TestClock drives it).
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { Attempt, JoinPath, JoinReport, Outcome, Phase, PhaseName, ZoneScore } from "../../protocol/join-report.js"

const nowMs = Effect.map(Clock.currentTimeNanos, (ns) => Number(ns) / 1e6)
const round = (ms: number) => Math.round(ms * 100) / 100

/** @category models */
export interface PhaseRecorder {
  /** Times `effect` as one attempt at `target`; its failure is recorded and passed on. */
  readonly attempt: <A, E, R>(
    target: string,
    action: string,
    effect: Effect.Effect<A, E, R>,
    describe?: (e: E) => { readonly outcome: Outcome; readonly detail: string },
  ) => Effect.Effect<A, E, R>
  /** Adds an attempt whose timing was measured elsewhere. */
  readonly record: (attempt: Attempt) => void
  readonly at: Effect.Effect<number>
}

/** @category models */
export interface Recorder {
  readonly meeting: string
  /** Runs `body` as one phase; the phase ends when it does. */
  readonly phase: <A, E, R>(
    name: PhaseName,
    body: (phase: PhaseRecorder) => Effect.Effect<A, E, R>,
    summary?: (a: A) => { readonly chosen?: string; readonly zones?: ReadonlyArray<ZoneScore> },
  ) => Effect.Effect<A, E, R>
  /** Marks a phase that did not run, and why. */
  readonly skipPhase: (name: PhaseName, reason: string) => Effect.Effect<void>
  readonly set: (fields: Partial<Pick<JoinReport, "participant" | "path" | "proxy" | "zone" | "mmr" | "webClient">>) => void
  /** The report as it stands. */
  readonly report: Effect.Effect<JoinReport>
}

const json = (e: object): string => {
  try {
    return JSON.stringify(e).slice(0, 300)
  } catch {
    return String(e)
  }
}

const describeError = (e: unknown): { outcome: Outcome; detail: string } => {
  const tag = typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : undefined
  // A sentence, never "[object Object]": an Error's message, else a plain failure's message or detail, else its JSON.
  const own = typeof e === "object" && e !== null ? ((e as { message?: unknown }).message ?? (e as { detail?: unknown }).detail) : undefined
  const message = e instanceof Error && e.message !== "" ? e.message : typeof own === "string" ? own : typeof e === "object" && e !== null ? json(e) : String(e)
  return { outcome: tag === "RequestTimeout" ? "timeout" : "failed", detail: tag !== undefined && !message.startsWith(`${tag}:`) ? `${tag}: ${message}` : message }
}

/** @category constructors */
export const make = (meeting: string): Effect.Effect<Recorder> =>
  Effect.gen(function* () {
    const started = yield* nowMs
    const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const phases: Array<Phase> = []
    const fields: Partial<Pick<JoinReport, "participant" | "path" | "proxy" | "zone" | "mmr" | "webClient">> = {}
    const since = Effect.map(nowMs, (t) => t - started)

    return {
      meeting,
      phase: (name, body, summary) =>
        Effect.gen(function* () {
          const startMs = yield* since
          const attempts: Array<Attempt> = []
          const phase: PhaseRecorder = {
            at: since,
            record: (a) => void attempts.push(a),
            attempt: (target, action, effect, describe) =>
              Effect.gen(function* () {
                const begin = yield* since
                const exit = yield* Effect.exit(Effect.withSpan(effect, action, { attributes: { "meetzone.target": target } }))
                const ms = round((yield* since) - begin)
                if (exit._tag === "Success") {
                  attempts.push({ target, action, startMs: round(begin), ms, outcome: "ok" })
                  return exit.value
                }
                const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
                const { outcome, detail } =
                  failure !== undefined ? (describe ?? describeError)(failure) : { outcome: "failed" as const, detail: "interrupted or defect" }
                attempts.push({ target, action, startMs: round(begin), ms, outcome, detail })
                return yield* exit
              }),
          }
          const exit = yield* Effect.exit(Effect.withSpan(body(phase), `join.${name}`, { attributes: { "meetzone.meeting": meeting } }))
          const ms = round((yield* since) - startMs)
          if (exit._tag === "Success") {
            const s = summary?.(exit.value)
            phases.push({
              name,
              startMs: round(startMs),
              ms,
              outcome: "ok",
              attempts,
              ...(s?.chosen !== undefined ? { chosen: s.chosen } : {}),
              ...(s?.zones !== undefined ? { zones: s.zones } : {}),
            })
          } else {
            const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            const zones =
              typeof failure === "object" && failure !== null && "zones" in failure
                ? ((failure as { zones: ReadonlyArray<ZoneScore> }).zones)
                : undefined
            phases.push({
              name,
              startMs: round(startMs),
              ms,
              outcome: "failed",
              attempts,
              reason: failure !== undefined ? describeError(failure).detail : "interrupted or defect",
              ...(zones !== undefined ? { zones } : {}),
            })
          }
          return yield* exit
        }),
      skipPhase: (name, reason) =>
        Effect.map(since, (startMs) => {
          phases.push({ name, startMs: round(startMs), ms: 0, outcome: "skipped", attempts: [], reason })
        }),
      set: (f) => Object.assign(fields, f),
      report: Effect.map(since, (total) => ({
        meeting,
        ...fields,
        phases: [...phases],
        totalMs: round(total),
        startedAt,
      })),
    }
  })

/** The path a finished join took. @category models */
export type { JoinPath }
