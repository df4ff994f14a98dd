/**
 * A controller's view of its zone's MMRs: the last load report of each, when
 * it arrived (by the controller's clock), and what the controller has placed
 * on it since. An MMR whose last report is older than the TTL is dead to
 * placement.
 *
 * @since 0.1.0
 */
import type { MmrLoad } from "../../protocol/zone.js"
import type { MmrCandidate } from "./selector.js"

interface Row {
  load: MmrLoad
  receivedAt: number
  pending: number
}

/** @category models */
export interface LoadTable {
  /** Takes a report; a newer report replaces the placements counted since the last. */
  readonly report: (load: MmrLoad, now: number) => void
  /** Counts a placement made on `mmr` until its next report. */
  readonly placed: (mmr: string) => void
  readonly isAlive: (mmr: string, now: number) => boolean
  /** Live MMRs, as selector candidates. */
  readonly live: (now: number) => ReadonlyArray<MmrCandidate>
  readonly get: (mmr: string) => MmrLoad | undefined
  /** How long since `mmr`'s last report (undefined: never heard of it). */
  readonly reportAge: (mmr: string, now: number) => number | undefined
  /** Counts `mmr` as gone until it reports again (it did not answer a check). */
  readonly forget: (mmr: string) => void
}

/** @category constructors */
export const make = (ttlMs: number): LoadTable => {
  const rows = new Map<string, Row>()
  const alive = (row: Row | undefined, now: number): row is Row => row !== undefined && now - row.receivedAt <= ttlMs
  return {
    report: (load, now) => {
      const row = rows.get(load.mmr)
      // Reports can arrive out of order across reconnects; keep the newest.
      if (row !== undefined && row.load.at > load.at) return
      rows.set(load.mmr, { load, receivedAt: now, pending: 0 })
    },
    placed: (mmr) => {
      const row = rows.get(mmr)
      if (row !== undefined) row.pending++
    },
    isAlive: (mmr, now) => alive(rows.get(mmr), now),
    live: (now) => {
      const out: Array<MmrCandidate> = []
      for (const row of rows.values()) if (alive(row, now)) out.push({ load: row.load, pending: row.pending })
      return out
    },
    get: (mmr) => rows.get(mmr)?.load,
    reportAge: (mmr, now) => {
      const row = rows.get(mmr)
      return row === undefined || row.receivedAt === Number.NEGATIVE_INFINITY ? undefined : now - row.receivedAt
    },
    // Kept, but not alive: the controller judges its placements by the table until a new report comes.
    forget: (mmr) => {
      const row = rows.get(mmr)
      if (row !== undefined) row.receivedAt = Number.NEGATIVE_INFINITY
    },
  }
}
