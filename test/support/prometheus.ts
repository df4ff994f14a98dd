/**
 * Reading a process's /metrics in tests: scrape it, and add up the samples
 * of one metric whose labels include the given ones.
 */
import { Effect } from "effect"

/** The Prometheus text of `baseUrl`/metrics. */
export const scrape = (baseUrl: string) => Effect.promise(() => fetch(`${baseUrl}/metrics`).then((r) => r.text()))

/** The sum of `name`'s samples carrying every label in `labels` (0 when none). */
export const sum = (text: string, name: string, labels: Readonly<Record<string, string>> = {}) =>
  text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)
