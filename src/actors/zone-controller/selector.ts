/**
 * MMR selection: given what the zone's live MMRs last reported (plus what
 * this controller placed since), which one should host a new meeting. Pure,
 * and a service so a deployment can plug in its own policy (e.g. pack
 * meetings onto the fewest MMRs).
 *
 * @since 0.1.0
 */
import { Context, Layer, Option } from "effect"
import type { MmrLoad } from "../../protocol/zone.js"

/**
 * An MMR as the selector sees it: its last report, adjusted for placements
 * this controller made after that report.
 *
 * @category models
 */
export interface MmrCandidate {
  readonly load: MmrLoad
  /** Meetings placed here since the report (each counted as one participant). */
  readonly pending: number
}

/** Participants once pending placements arrive. @category scoring */
export const expectedParticipants = (c: MmrCandidate): number => c.load.participants + c.pending

/** Can it take a new meeting at all? @category scoring */
export const hasHeadroom = (c: MmrCandidate): boolean => !c.load.draining && expectedParticipants(c) < c.load.capacity

/**
 * @category models
 */
export interface MmrSelectorShape {
  /** Picks a host for `meeting` among live candidates; none when nobody fits. */
  readonly select: (candidates: ReadonlyArray<MmrCandidate>, meeting: string) => Option.Option<MmrCandidate>
}

/**
 * @category tags
 */
export class MmrSelector extends Context.Tag("meetzone/MmrSelector")<MmrSelector, MmrSelectorShape>() {}

/**
 * The default: the least loaded MMR with headroom. Load is participant
 * utilisation; CPU counts a quarter as much (it lags and is noisy); ties go to
 * fewer meetings, then to the id, so the choice is deterministic.
 *
 * @category policies
 */
export const leastLoaded: MmrSelectorShape = {
  select: (candidates) => {
    let best: MmrCandidate | undefined
    let bestScore = Infinity
    for (const c of candidates) {
      if (!hasHeadroom(c)) continue
      const score = expectedParticipants(c) / c.load.capacity + 0.25 * Math.min(c.load.cpu, 1)
      if (
        best === undefined ||
        score < bestScore ||
        (score === bestScore &&
          (c.load.meetings + c.pending < best.load.meetings + best.pending ||
            (c.load.meetings + c.pending === best.load.meetings + best.pending && c.load.mmr < best.load.mmr)))
      ) {
        best = c
        bestScore = score
      }
    }
    return Option.fromNullable(best)
  },
}

/** @category layers */
export const layerLeastLoaded: Layer.Layer<MmrSelector> = Layer.succeed(MmrSelector, leastLoaded)
