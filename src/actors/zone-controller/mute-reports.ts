/**
 * Participants' word that their media to an MMR is mute while its control
 * still answers (a gray failure: its media port dropped, its forwarding
 * stuck). One participant's word moves nothing — it may lie, or only its own
 * network may be broken. The meeting moves when a quorum of the meeting's
 * participants on that MMR say so within the window, or when the controller
 * cannot reach the MMR's media port itself. Only participants the MMR serves
 * count: join tokens are easy to get, a seat in the meeting is not.
 *
 * @since 0.1.0
 */

/** More than half of `participants` (at least one). @category deciding */
export const quorum = (participants: number): number => Math.floor(Math.max(participants, 1) / 2) + 1

/** What the controller concludes from the reports and its own probe. @category deciding */
export const decide = (evidence: {
  /** Distinct participants who reported within the window. */
  readonly reporters: number
  /** The meeting's participants on that MMR, as it says. */
  readonly participants: number
  /** Did the MMR's media port answer the controller's probe? */
  readonly mediaAnswered: boolean
}): "mute" | "kept" =>
  !evidence.mediaAnswered || evidence.reporters >= quorum(evidence.participants) ? "mute" : "kept"

/**
 * Reports by (meeting, MMR), each participant once, forgotten after the
 * window; at most `maxMeetings` pairs are kept (the oldest go first), so a
 * flood of reports cannot grow it without bound.
 *
 * @category models
 */
export class MuteReports {
  private readonly byPair = new Map<string, Map<string, number>>()
  constructor(
    private readonly windowMs: number,
    private readonly maxMeetings = 10_000,
  ) {}

  /** Records `participant`'s report at `now`; returns the distinct participants who reported within the window. */
  add(meeting: string, mmr: string, participant: string, now: number): ReadonlyArray<string> {
    const key = `${meeting}/${mmr}`
    let reporters = this.byPair.get(key)
    if (reporters === undefined) {
      if (this.byPair.size >= this.maxMeetings) this.byPair.delete(this.byPair.keys().next().value!)
      this.byPair.set(key, (reporters = new Map()))
    }
    reporters.set(participant, now)
    for (const [p, at] of reporters) if (now - at > this.windowMs) reporters.delete(p)
    return [...reporters.keys()]
  }

  /** Forgets the reports of a pair (the meeting moved). */
  clear(meeting: string, mmr: string): void {
    this.byPair.delete(`${meeting}/${mmr}`)
  }
}
