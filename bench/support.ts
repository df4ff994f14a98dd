/**
 * What every benchmark shares: statistics over samples, how figures are
 * printed, timing one effect, and running a benchmark program (logs quiet,
 * a failure printed and the exit code set). Benchmarks import nothing from
 * test/.
 */
import type { LogLevel } from "effect"
import { Effect, Logger } from "effect"

/** The q-quantile (0..1) of `xs`, nearest rank. */
export const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** The median: the middle sample (the upper one of an even count). */
export const median = (xs: ReadonlyArray<number>): number => quantile(xs, 0.5)

/** A count for people: rounded, with thousands separators. */
export const count = (n: number): string => Math.round(n).toLocaleString("en-US")

/** Milliseconds with two decimals, right-aligned to `width`. */
export const ms = (value: number, width = 10): string => `${value.toFixed(2)} ms`.padStart(width)

/** A ratio against a baseline measured in the same run. */
export const ratio = (value: number, baseline: number): string => (value / baseline).toFixed(2)

/** Runs `effect` and says how long it took (ms) beside its value. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<readonly [number, A], E, R> =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const a = yield* effect
    return [performance.now() - t0, a] as const
  })

/**
 * Runs a benchmark to its end: scoped (servers it started stop), logs below
 * `level` silenced; a failure is printed and the exit code set, after
 * `onFailure` (e.g. stopping a load process).
 */
export const run = <A, E>(
  program: Effect.Effect<A, E, import("effect").Scope.Scope>,
  options: { readonly level: LogLevel.LogLevel; readonly onFailure?: () => void },
): void => {
  Effect.runPromise(program.pipe(Effect.scoped, Logger.withMinimumLogLevel(options.level))).catch((e: unknown) => {
    console.error(e)
    options.onFailure?.()
    process.exitCode = 1
  })
}
