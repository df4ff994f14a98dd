/**
 * Zone selection, the decision: given what the probes have observed so far
 * and the time, what to do next. No I/O; the client's shell sends the probes
 * and asks again whenever an answer comes or a wait runs out.
 *
 * - A zone is scored by its best controller: median round-trip time, plus
 *   twice the jitter (mean difference of consecutive round trips), plus 200 ms
 *   per unit of loss. Lower is better. Scores within `tieMarginMs` of the
 *   best are measurement noise, not a difference: among those, the zone the
 *   lookup ranked higher (nearer, by Geo-IP) wins, so choices do not flap.
 * - Once any controller has answered, wait at most `settleMs` more for the
 *   rest, then choose the best zone that answered.
 * - While nothing has answered, wait; when a whole round of probes has failed,
 *   probe again after `roundGapMs`.
 * - Nothing answered by `deadlineMs` (5.5 s): unreachable.
 *
 * @since 0.1.0
 */
import type { ZoneScore } from "../../protocol/join-report.js"

/** @category models */
export interface SelectionOptions {
  /** Probes per controller per round. */
  readonly samples: number
  /** The most a controller's next sample waits for the last: it goes as soon as that one is answered. */
  readonly sampleSpacingMs: number
  readonly probeTimeoutMs: number
  readonly settleMs: number
  readonly deadlineMs: number
  readonly roundGapMs: number
  /** Scores this close to the best count as equal. */
  readonly tieMarginMs: number
}

/** The defaults: three samples, each sent when the last is answered (at most 20 ms after it), 5.5 s to hear from anyone. @category models */
export const defaults: SelectionOptions = {
  samples: 3,
  sampleSpacingMs: 20,
  probeTimeoutMs: 1000,
  settleMs: 300,
  deadlineMs: 5500,
  roundGapMs: 250,
  tieMarginMs: 2,
}

/** A zone as the lookup ranked it, with the controllers to probe. @category models */
export interface ZoneTarget {
  readonly zone: string
  readonly rank: number
  readonly controllers: ReadonlyArray<string>
}

/** @category models */
export type ProbeResult =
  | { readonly _tag: "answered"; readonly rttMs: number }
  | { readonly _tag: "lost"; readonly reason: string }

/** @category models */
export interface Observation {
  readonly zone: string
  readonly controller: string
  readonly round: number
  readonly sample: number
  readonly result: ProbeResult
  readonly at: number
}

/** @category models */
export interface SelectionState {
  readonly startedAt: number
  readonly round: number
  /** Probes sent so far, all rounds. */
  readonly sent: number
  readonly observations: ReadonlyArray<Observation>
  readonly firstAnswerAt: number | undefined
  readonly lastObservationAt: number | undefined
}

/** @category models */
export type Decision =
  | { readonly _tag: "Wait"; readonly until: number }
  | { readonly _tag: "ProbeAgain"; readonly round: number }
  | { readonly _tag: "Chosen"; readonly zone: string; readonly scores: ReadonlyArray<ZoneScore> }
  | { readonly _tag: "Unreachable"; readonly scores: ReadonlyArray<ZoneScore> }

/** @category state */
export const initial = (startedAt: number): SelectionState => ({
  startedAt,
  round: 0,
  sent: 0,
  observations: [],
  firstAnswerAt: undefined,
  lastObservationAt: undefined,
})

/** Probes of one round. @category state */
export const probesPerRound = (zones: ReadonlyArray<ZoneTarget>, options: SelectionOptions): number =>
  zones.reduce((n, z) => n + z.controllers.length, 0) * options.samples

/** @category state */
export const startRound = (state: SelectionState, round: number, probes: number): SelectionState => ({
  ...state,
  round,
  sent: state.sent + probes,
})

/** @category state */
export const observe = (state: SelectionState, observation: Observation): SelectionState => ({
  ...state,
  observations: [...state.observations, observation],
  firstAnswerAt:
    state.firstAnswerAt ?? (observation.result._tag === "answered" ? observation.at : undefined),
  lastObservationAt: observation.at,
})

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The score of one set of round trips; lower is better. @category scoring */
export const score = (latencyMs: number, jitterMs: number, loss: number): number => latencyMs + 2 * jitterMs + 200 * loss

/**
 * Scores every zone from the observations; probes sent but not observed
 * count as lost. Every round probes every controller equally often.
 *
 * @category scoring
 */
export const scoreZones = (zones: ReadonlyArray<ZoneTarget>, state: SelectionState): ReadonlyArray<ZoneScore> => {
  const controllers = zones.reduce((n, z) => n + z.controllers.length, 0)
  const sentPerController = controllers === 0 ? 0 : state.sent / controllers
  return zones.map((z) => {
    let best: { latencyMs: number; jitterMs: number; loss: number; score: number } | undefined
    let answered = 0
    for (const controller of z.controllers) {
      const rtts = state.observations
        .filter((o) => o.zone === z.zone && o.controller === controller)
        .sort((a, b) => a.round - b.round || a.sample - b.sample)
        .flatMap((o) => (o.result._tag === "answered" ? [o.result.rttMs] : []))
      answered += rtts.length
      if (rtts.length === 0) continue
      const sent = Math.max(rtts.length, sentPerController)
      const loss = (sent - rtts.length) / sent
      const jitterMs =
        rtts.length < 2 ? 0 : rtts.slice(1).reduce((sum, rtt, i) => sum + Math.abs(rtt - rtts[i]!), 0) / (rtts.length - 1)
      const latencyMs = median(rtts)
      const s = score(latencyMs, jitterMs, loss)
      if (best === undefined || s < best.score) best = { latencyMs, jitterMs, loss, score: s }
    }
    return {
      zone: z.zone,
      rank: z.rank,
      sent: sentPerController * z.controllers.length,
      answered,
      loss: best?.loss ?? 1,
      ...(best !== undefined
        ? { latencyMs: round2(best.latencyMs), jitterMs: round2(best.jitterMs), score: round2(best.score) }
        : {}),
    }
  })
}

const round2 = (x: number) => Math.round(x * 100) / 100

/**
 * The best zone that answered: among those scoring within `tieMarginMs` of the
 * lowest score, the best ranked.
 *
 * @category scoring
 */
export const best = (scores: ReadonlyArray<ZoneScore>, tieMarginMs: number): ZoneScore | undefined => {
  const answered = scores.filter((s) => s.score !== undefined)
  if (answered.length === 0) return undefined
  const lowest = Math.min(...answered.map((s) => s.score!))
  return answered.filter((s) => s.score! <= lowest + tieMarginMs).sort((a, b) => a.rank - b.rank)[0]
}

/** Zones that answered, best first by the same rule. @category scoring */
export const order = (scores: ReadonlyArray<ZoneScore>, tieMarginMs: number): ReadonlyArray<ZoneScore> => {
  const rest = [...scores]
  const out: Array<ZoneScore> = []
  for (let next = best(rest, tieMarginMs); next !== undefined; next = best(rest, tieMarginMs)) {
    out.push(next)
    rest.splice(rest.indexOf(next), 1)
  }
  return out
}

/**
 * What to do now.
 *
 * @category decision
 */
export const decide = (
  zones: ReadonlyArray<ZoneTarget>,
  options: SelectionOptions,
  state: SelectionState,
  now: number,
): Decision => {
  const deadline = state.startedAt + options.deadlineMs
  const outstanding = state.sent - state.observations.length
  if (state.firstAnswerAt !== undefined) {
    const settleAt = Math.min(state.firstAnswerAt + options.settleMs, deadline)
    if (outstanding > 0 && now < settleAt) return { _tag: "Wait", until: settleAt }
    const scores = scoreZones(zones, state)
    return { _tag: "Chosen", zone: best(scores, options.tieMarginMs)!.zone, scores }
  }
  if (now >= deadline || probesPerRound(zones, options) === 0) {
    return { _tag: "Unreachable", scores: scoreZones(zones, state) }
  }
  if (outstanding > 0) return { _tag: "Wait", until: deadline }
  // Every probe so far failed: try again after a pause, if there is time.
  const againAt = (state.lastObservationAt ?? state.startedAt) + options.roundGapMs
  if (state.sent > 0 && againAt >= deadline) return { _tag: "Wait", until: deadline }
  if (state.sent > 0 && now < againAt) return { _tag: "Wait", until: againAt }
  return { _tag: "ProbeAgain", round: state.sent === 0 ? 0 : state.round + 1 }
}
