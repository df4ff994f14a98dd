/**
 * Which tunnel: every tunnel the lookup listed is pinged at once; the first
 * to answer wins (a tie goes to the one listed first); none answering within
 * the timeout, or every one failing, is a failure. Pure.
 *
 * @since 0.1.0
 */

/** @category models */
export interface PingOutcome {
  readonly tunnel: string
  readonly ok: boolean
  /** When it answered or failed. */
  readonly at: number
}

/** @category models */
export type TunnelDecision =
  | { readonly _tag: "Wait"; readonly until: number }
  | { readonly _tag: "Chosen"; readonly tunnel: string }
  | { readonly _tag: "Failed"; readonly reason: string }

/** @category decision */
export const decide = (
  tunnels: ReadonlyArray<string>,
  outcomes: ReadonlyArray<PingOutcome>,
  startedAt: number,
  now: number,
  timeoutMs: number,
): TunnelDecision => {
  let winner: PingOutcome | undefined
  for (const o of outcomes) {
    if (!o.ok) continue
    if (winner === undefined || o.at < winner.at || (o.at === winner.at && tunnels.indexOf(o.tunnel) < tunnels.indexOf(winner.tunnel))) {
      winner = o
    }
  }
  if (winner !== undefined) return { _tag: "Chosen", tunnel: winner.tunnel }
  if (tunnels.length === 0) return { _tag: "Failed", reason: "the lookup listed no tunnel" }
  if (tunnels.every((t) => outcomes.some((o) => o.tunnel === t))) return { _tag: "Failed", reason: "every tunnel failed" }
  const deadline = startedAt + timeoutMs
  if (now >= deadline) return { _tag: "Failed", reason: `no tunnel answered within ${timeoutMs} ms` }
  return { _tag: "Wait", until: deadline }
}
