/**
 * What clients tell the web lookup about their joins: the latest few for the
 * dashboard (and each participant's path), and each one to whoever listens (the process's metrics).
 *
 * @since 0.1.0
 */
import type { JoinPath } from "../../protocol/join-report.js"
import type { JoinSummary, RecentJoin } from "../../protocol/web-api.js"

/** @category models */
export interface JoinLog {
  readonly add: (join: JoinSummary, at: number) => void
  /** Newest first. */
  readonly recent: () => ReadonlyArray<RecentJoin>
  /** The path the participant's latest reported join took (the last 10,000 participants kept). */
  readonly pathOf: (meeting: string, participant: string) => JoinPath | undefined
  /** Called with every join from now on; returns the unsubscribe. */
  readonly onJoin: (listener: (join: RecentJoin) => void) => () => void
}

/** @category constructors */
export const make = (keep = 50, keepPaths = 10_000): JoinLog => {
  const ring: Array<RecentJoin> = []
  // Insertion-ordered: the oldest is the first key, dropped when over the cap.
  const paths = new Map<string, JoinPath>()
  const listeners = new Set<(join: RecentJoin) => void>()
  return {
    add: (join, at) => {
      const recent = { ...join, at }
      ring.unshift(recent)
      if (ring.length > keep) ring.length = keep
      if (join.participant !== undefined && join.path !== undefined && join.outcome === "ok") {
        const key = `${join.meeting}/${join.participant}`
        paths.delete(key)
        paths.set(key, join.path)
        if (paths.size > keepPaths) paths.delete(paths.keys().next().value!)
      }
      for (const listener of listeners) listener(recent)
    },
    recent: () => [...ring],
    pathOf: (meeting, participant) => paths.get(`${meeting}/${participant}`),
    onJoin: (listener) => {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
  }
}
