/**
 * When a media kind leaves a bad UDP path for TCP (else TLS), and when it
 * comes back. Pure: observations in, a decision out, the time given by the
 * caller — so that it can be property-tested on any loss pattern.
 *
 *   on UDP    a report every interval: that interval's loss (the worse direction)
 *             `badReports` of the last `window` reports at or above `lossAbove` → leave
 *   off UDP   a UDP probe every `probeEveryMs`: the loss of the STUN checks to the MMR's UDP port since the last
 *             `goodProbes` in a row below `lossAbove` / 2, together below `lossAbove` / 8, and `returnAfterMs`
 *             since leaving → return (each probe alone lets loss that comes and goes through: 1 check lost
 *             of 20 in a probe that caught a second of it; four such in a row are not a clean path)
 *   flapping  a return followed by another leave within `flapWindowMs` doubles `returnAfterMs`
 *             (up to `maxReturnAfterMs`); a calm `flapWindowMs` on UDP halves it again
 *
 * LiveKit's first version of this flapped (livekit#4703): here every return
 * waits at least `returnAfterMs` off UDP and every leave needs `badReports`
 * fresh reports after the return, so changes are bounded in any window.
 *
 * @since 0.3.0
 */

/** @category models */
export interface PolicyOptions {
  /** Loss (0..1) that makes an interval bad. Default 0.2. */
  readonly lossAbove: number
  /** Reports looked at. Default 5. */
  readonly window: number
  /** Bad ones among them that make the kind leave UDP. Default 3. */
  readonly badReports: number
  /** Least time off UDP before a return. Default 10 s. */
  readonly returnAfterMs: number
  /** Good UDP probes in a row that a return needs. Default 4: 8 s of checks without a gap, longer than loss that comes and goes every few seconds. */
  readonly goodProbes: number
  /** Between UDP probes while off UDP. Default 2 s. */
  readonly probeEveryMs: number
  /** A leave this soon after a return is a flap. Default 60 s. */
  readonly flapWindowMs: number
  /** The longest wait before a return. Default 5 min. */
  readonly maxReturnAfterMs: number
}

export const defaults: PolicyOptions = {
  lossAbove: 0.2,
  window: 5,
  badReports: 3,
  returnAfterMs: 10_000,
  goodProbes: 4,
  probeEveryMs: 2_000,
  flapWindowMs: 60_000,
  maxReturnAfterMs: 300_000,
}

/** @category models */
export type Observation =
  /** One report interval on the path the kind is on now. */
  | { readonly _tag: "Report"; readonly at: number; readonly loss: number }
  /** A UDP probe while off UDP: the share of checks unanswered (1: nothing came back). */
  | { readonly _tag: "Probe"; readonly at: number; readonly loss: number }

/** @category models */
export type Decision =
  | { readonly _tag: "Stay" }
  | { readonly _tag: "Leave"; readonly why: string }
  | { readonly _tag: "Return"; readonly why: string }

/** @category models */
export interface PolicyState {
  readonly onUdp: boolean
  /** Whether each recent report on UDP was bad, newest last. */
  readonly recent: ReadonlyArray<boolean>
  /** Good probes in a row, off UDP. */
  readonly good: number
  /** Their losses, newest last (the last `goodProbes`). */
  readonly goodLosses: ReadonlyArray<number>
  readonly changedAt: number
  readonly returnedAt: number | undefined
  /** The wait before the next return (grows with flapping). */
  readonly returnAfterMs: number
  readonly lastProbeAt: number
}

/** A kind that starts on UDP (`onUdp`) or not, at `at`. @category constructors */
export const initial = (options: PolicyOptions, at: number, onUdp = true): PolicyState => ({
  onUdp,
  recent: [],
  good: 0,
  goodLosses: [],
  changedAt: at,
  returnedAt: undefined,
  returnAfterMs: options.returnAfterMs,
  lastProbeAt: -Infinity,
})

/** Whether a UDP probe is due at `at` (off UDP only). @category decisions */
export const probeDue = (options: PolicyOptions, state: PolicyState, at: number): boolean =>
  !state.onUdp && at - state.lastProbeAt >= options.probeEveryMs

const percent = (x: number) => `${Math.round(x * 100)} %`

/** The next state and what to do. @category decisions */
export const step = (options: PolicyOptions, state: PolicyState, observation: Observation): { readonly state: PolicyState; readonly decision: Decision } => {
  const stay = (next: PolicyState) => ({ state: next, decision: { _tag: "Stay" } as const })
  const at = observation.at
  if (observation._tag === "Report") {
    if (!state.onUdp) return stay(state)
    const recent = [...state.recent, observation.loss >= options.lossAbove].slice(-options.window)
    // Calm on UDP for a flap window: the wait before a return shrinks back.
    const calm = state.returnedAt !== undefined && at - state.returnedAt >= options.flapWindowMs
    const returnAfterMs = calm ? Math.max(options.returnAfterMs, state.returnAfterMs / 2) : state.returnAfterMs
    const bad = recent.filter((b) => b).length
    if (bad < options.badReports) return stay({ ...state, recent, returnAfterMs, ...(calm ? { returnedAt: at } : {}) })
    const flapped = state.returnedAt !== undefined && at - state.returnedAt < options.flapWindowMs
    return {
      state: {
        ...state,
        onUdp: false,
        recent: [],
        good: 0,
        goodLosses: [],
        changedAt: at,
        lastProbeAt: at,
        returnAfterMs: flapped ? Math.min(options.maxReturnAfterMs, returnAfterMs * 2) : returnAfterMs,
      },
      decision: { _tag: "Leave", why: `${bad} of the last ${recent.length} reports lost ${percent(options.lossAbove)} or more (last ${percent(observation.loss)})` },
    }
  }
  if (state.onUdp) return stay(state)
  const isGood = observation.loss < options.lossAbove / 2
  const good = isGood ? state.good + 1 : 0
  const goodLosses = isGood ? [...state.goodLosses, observation.loss].slice(-options.goodProbes) : []
  const next = { ...state, good, goodLosses, lastProbeAt: at }
  if (good < options.goodProbes || at - state.changedAt < state.returnAfterMs) return stay(next)
  const together = goodLosses.reduce((a, b) => a + b, 0) / goodLosses.length
  if (together >= options.lossAbove / 8) return stay(next)
  return {
    state: { ...next, onUdp: true, recent: [], good: 0, goodLosses: [], changedAt: at, returnedAt: at },
    decision: {
      _tag: "Return",
      why: `${good} UDP probes in a row lost under ${percent(options.lossAbove / 2)} (${percent(together)} together), ${Math.round((at - state.changedAt) / 1000)} s after leaving`,
    },
  }
}
