/**
 * An actor's mailbox: a FIFO filled from bus callbacks (plain JS) and emptied
 * by worker fibers. Effect's Queue does more than this needs (back-pressure,
 * shutdown, strategies) and its hand-off cost ~40 µs of latency per message
 * on the control-plane benchmark; this is an array and a list of parked workers.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

/** @category models */
export interface Mailbox<A> {
  /** Never blocks; the caller enforces capacity (it knows what to answer). */
  readonly offer: (item: A) => void
  /** The next item, or undefined when empty. */
  readonly poll: () => A | undefined
  /** Completes once an item may be available. */
  readonly wait: Effect.Effect<void>
  readonly size: () => number
  /** Takes everything left. */
  readonly drain: () => Array<A>
}

/** @category constructors */
export const make = <A>(): Mailbox<A> => {
  let items: Array<A> = []
  let head = 0
  const parked: Array<() => void> = []

  const poll = (): A | undefined => {
    if (head >= items.length) return undefined
    const item = items[head]!
    items[head++] = undefined as unknown as A
    // Compact now and then so a long-lived mailbox does not grow forever.
    if (head > 1024 && head * 2 > items.length) {
      items = items.slice(head)
      head = 0
    }
    return item
  }

  return {
    offer: (item) => {
      items.push(item)
      const wake = parked.shift()
      if (wake !== undefined) wake()
    },
    poll,
    wait: Effect.async<void>((resume) => {
      if (head < items.length) return resume(Effect.void)
      const wake = () => resume(Effect.void)
      parked.push(wake)
      return Effect.sync(() => {
        const i = parked.indexOf(wake)
        if (i >= 0) parked.splice(i, 1)
      })
    }),
    size: () => items.length - head,
    drain: () => {
      const rest = items.slice(head)
      items = []
      head = 0
      return rest
    },
  }
}
