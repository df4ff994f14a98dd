/**
 * The SFU's counters: MMR-wide, and per media kind. Plain numbers the
 * forwarding loop bumps in place; metrics and MmrStatus read them.
 *
 * @since 0.3.0
 */

/** MMR-wide counters. @category models */
export interface SfuCounters {
  bound: number
  /** Packets from sources that never bound. */
  unbound: number
  /** Neither STUN nor RTP, or broken STUN, or a broken stream. */
  malformed: number
  forged: number
  expired: number
  replayed: number
  /** Tokens for participants not (or no longer) in the meeting. */
  unknownParticipant: number
  /** Packets from bound connections with an SSRC their participant did not declare. */
  refused: number
  /** Packets from bound connections over the per-participant media rate. */
  overRate: number
  forwarded: number
  closedSilent: number
  /** Consent checks answered on bound connections (a client making sure its media still goes both ways). */
  consents: number
  /** Reachability probes answered (a controller checking this media port). */
  probes: number
}

/** MMR-wide counters of one media kind (monotonic: participants who left still count). @category models */
export interface KindTotals {
  packetsIn: number
  bytesIn: number
  packetsOut: number
  bytesOut: number
  drops: number
}

/** @category constructors */
export const newTotals = (): KindTotals => ({ packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, drops: 0 })

/** @category constructors */
export const zeroCounters = (): SfuCounters => ({
  bound: 0,
  unbound: 0,
  malformed: 0,
  forged: 0,
  expired: 0,
  replayed: 0,
  unknownParticipant: 0,
  refused: 0,
  overRate: 0,
  forwarded: 0,
  closedSilent: 0,
  consents: 0,
  probes: 0,
})
