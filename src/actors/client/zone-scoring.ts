/**
 * Zone scoring as a policy a team can replace: given every zone's probe
 * figures (latency, jitter, loss, the lookup's Geo-IP rank), the zones that
 * answered, best first. The client joins the first and tries the others in
 * order. The default is the connection process's rule (zone-selection.ts):
 * lowest `latency + 2·jitter + 200·loss`, ties within 2 ms going to the
 * better Geo-IP rank.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import type { ZoneScore } from "../../protocol/join-report.js"
import * as Selection from "./zone-selection.js"

/** @category models */
export interface ZoneScoringShape {
  /** The zones to try, best first; zones left out are not tried. */
  readonly rank: (scores: ReadonlyArray<ZoneScore>) => ReadonlyArray<ZoneScore>
}

/** @category tags */
export class ZoneScoring extends Context.Tag("meetzone/ZoneScoring")<ZoneScoring, ZoneScoringShape>() {}

/** The default rule, with ties within `tieMarginMs` going to the Geo-IP rank. @category policies */
export const lowestScore = (tieMarginMs = Selection.defaults.tieMarginMs): ZoneScoringShape => ({
  rank: (scores) => Selection.order(scores, tieMarginMs),
})

/** @category layers */
export const layerDefault: Layer.Layer<ZoneScoring> = Layer.succeed(ZoneScoring, lowestScore())

/** The policy in the context, or the default. @category accessors */
export const current = (tieMarginMs: number): Effect.Effect<ZoneScoringShape> =>
  Effect.map(Effect.serviceOption(ZoneScoring), Option.getOrElse(() => lowestScore(tieMarginMs)))
