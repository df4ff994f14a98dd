/**
 * What clients tell the web lookup about their joins: the latest few for the
 * dashboard, and each one to whoever listens (the process's metrics).
 *
 * @since 0.1.0
 */
import type { JoinSummary, RecentJoin } from "../../protocol/web-api.js"

/** @category models */
export interface JoinLog {
  readonly add: (join: JoinSummary, at: number) => void
  /** Newest first. */
  readonly recent: () => ReadonlyArray<RecentJoin>
  /** Called with every join from now on; returns the unsubscribe. */
  readonly onJoin: (listener: (join: RecentJoin) => void) => () => void
}

/** @category constructors */
export const make = (keep = 50): JoinLog => {
  const ring: Array<RecentJoin> = []
  const listeners = new Set<(join: RecentJoin) => void>()
  return {
    add: (join, at) => {
      const recent = { ...join, at }
      ring.unshift(recent)
      if (ring.length > keep) ring.length = keep
      for (const listener of listeners) listener(recent)
    },
    recent: () => [...ring],
    onJoin: (listener) => {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
  }
}
