/**
 * Rate limits per key (a client address, a meeting): a token bucket each,
 * `burst` deep, refilled at `perMinute`. Pure — the caller says what time it
 * is — and bounded: at most `maxKeys` buckets are kept, the least recently
 * used forgotten first, so a flood of new addresses costs memory it cannot
 * grow without bound.
 *
 * @since 0.1.0
 */

/** @category models */
export interface Limit {
  readonly perMinute: number
  readonly burst: number
}

/** @category models */
export type Verdict = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number }

/** @category models */
export interface RateLimiter {
  /** Takes one from `key`'s bucket at `nowMs`, or says how long until one is there. */
  readonly take: (key: string, nowMs: number) => Verdict
  /** Whether `key` has one left at `nowMs`, taking nothing (for limits on failures: check first, take when it failed). */
  readonly peek: (key: string, nowMs: number) => Verdict
  /** How many were refused so far. */
  readonly refused: () => number
}

/** @category constructors */
export const make = (limit: Limit, maxKeys = 10_000): RateLimiter => {
  const buckets = new Map<string, { tokens: number; at: number }>()
  const perMs = limit.perMinute / 60_000
  let refused = 0
  const refill = (key: string, nowMs: number) => {
    const bucket = buckets.get(key) ?? { tokens: limit.burst, at: nowMs }
    bucket.tokens = Math.min(limit.burst, bucket.tokens + Math.max(0, nowMs - bucket.at) * perMs)
    bucket.at = nowMs
    // Most recently used last: the first key is the one to forget.
    buckets.delete(key)
    buckets.set(key, bucket)
    if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!)
    return bucket
  }
  const verdict = (tokens: number): Verdict => {
    if (tokens >= 1) return { ok: true }
    refused++
    return { ok: false, retryAfterMs: Math.ceil((1 - tokens) / perMs) }
  }
  return {
    take: (key, nowMs) => {
      const bucket = refill(key, nowMs)
      const v = verdict(bucket.tokens)
      if (v.ok) bucket.tokens -= 1
      return v
    },
    peek: (key, nowMs) => verdict(refill(key, nowMs).tokens),
    refused: () => refused,
  }
}
