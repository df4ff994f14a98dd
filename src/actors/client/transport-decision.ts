/**
 * Which media transport to try next, for one media kind. Pure: a function of
 * the attempts so far and the time. The shell dials, times each attempt out
 * on its own, and reports every outcome.
 *
 * - `sequential`: UDP, else TCP, else TLS; each attempt waits for the one
 *   before it to fail.
 * - `race` (in the manner of RFC 8305): attempts start `staggerMs` apart in
 *   the same order, and a failure starts the next one at once; the first to
 *   succeed wins (a tie goes to the better transport), the rest are closed.
 *   The better transport's head start is its preference.
 *
 * With a proxy, the candidates are TLS alone.
 *
 * @since 0.1.0
 */
import type { MediaTransport } from "../../protocol/media.js"

/**
 * A team's own fallback strategy: the same decision, its own rule. It gets
 * the candidates best first, every attempt so far and the time, and says
 * what to do; the shell dials, times out and reports as for the built-in ones.
 *
 * @category models
 */
export interface CustomStrategy {
  readonly name: string
  /** What to do now, given the candidates best first, the attempts so far and the time. */
  readonly decide: (
    candidates: ReadonlyArray<MediaTransport>,
    attempts: ReadonlyArray<Attempt>,
    now: number,
    options: TransportOptions,
  ) => TransportDecision
}

/** @category models */
export type Strategy = "sequential" | "race" | CustomStrategy

/** @category models */
export interface TransportOptions {
  /** `race`: staggered attempts, the first to connect wins (RFC 8305); `sequential`: one after another. */
  readonly strategy: Strategy
  /** Race: the head start each transport gets over the next. */
  readonly staggerMs: number
  /** Each attempt's own timeout (enforced by the shell, reported as a failure). */
  readonly attemptTimeoutMs: number
}

/** @category defaults */
export const defaults: TransportOptions = { strategy: "race", staggerMs: 250, attemptTimeoutMs: 2000 }

/** @category models */
export interface Attempt {
  readonly transport: MediaTransport
  readonly startedAt: number
  readonly outcome?: { readonly ok: boolean; readonly at: number }
}

/** @category models */
export type TransportDecision =
  | { readonly _tag: "Start"; readonly transport: MediaTransport }
  /** Wait for an outcome, or until `until` when given. */
  | { readonly _tag: "Wait"; readonly until: number | undefined }
  | { readonly _tag: "Chosen"; readonly transport: MediaTransport }
  | { readonly _tag: "Failed" }

/**
 * @param candidates best first (UDP, TCP, TLS; or TLS alone behind a proxy)
 * @category decision
 */
export const decide = (
  candidates: ReadonlyArray<MediaTransport>,
  attempts: ReadonlyArray<Attempt>,
  now: number,
  options: TransportOptions,
): TransportDecision => {
  if (typeof options.strategy === "object") return options.strategy.decide(candidates, attempts, now, options)
  let winner: Attempt | undefined
  for (const a of attempts) {
    if (a.outcome?.ok !== true) continue
    if (
      winner === undefined ||
      a.outcome.at < winner.outcome!.at ||
      (a.outcome.at === winner.outcome!.at && candidates.indexOf(a.transport) < candidates.indexOf(winner.transport))
    ) {
      winner = a
    }
  }
  if (winner !== undefined) return { _tag: "Chosen", transport: winner.transport }

  const next = candidates.find((c) => !attempts.some((a) => a.transport === c))
  const pending = attempts.some((a) => a.outcome === undefined)
  if (next === undefined) return pending ? { _tag: "Wait", until: undefined } : { _tag: "Failed" }
  if (!pending) return { _tag: "Start", transport: next }
  if (options.strategy === "sequential") return { _tag: "Wait", until: undefined }
  // RFC 8305 §5: the latest attempt failing starts the next one without waiting.
  const latest = attempts.reduce((a, b) => (b.startedAt >= a.startedAt ? b : a))
  if (latest.outcome !== undefined) return { _tag: "Start", transport: next }
  const startAt = latest.startedAt + options.staggerMs
  return now >= startAt ? { _tag: "Start", transport: next } : { _tag: "Wait", until: startAt }
}

/** The candidates for a client: TLS alone behind a proxy. @category decision */
export const candidates = (behindProxy: boolean): ReadonlyArray<MediaTransport> =>
  behindProxy ? ["tls"] : ["udp", "tcp", "tls"]
