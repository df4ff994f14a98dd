/**
 * The media transport decision over arbitrary networks, driven in virtual
 * time: each transport is reachable with some latency, or blocked (silently,
 * so its attempt times out, or refused at once).
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type { Attempt, Strategy, TransportOptions } from "../../src/actors/client/transport-decision.js"
import { candidates as candidatesFor, decide } from "../../src/actors/client/transport-decision.js"
import type { MediaTransport } from "../../src/protocol/media.js"

interface Path {
  readonly reachable: boolean
  readonly latencyMs: number
  /** When blocked: refused after this long (ICMP, RST), or silent (undefined). */
  readonly refusedAfterMs: number | undefined
}
type Network = Readonly<Record<MediaTransport, Path>>

const pathArb: fc.Arbitrary<Path> = fc.record({
  reachable: fc.boolean(),
  latencyMs: fc.integer({ min: 0, max: 3000 }),
  refusedAfterMs: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
})
const networkArb: fc.Arbitrary<Network> = fc.record({ udp: pathArb, tcp: pathArb, tls: pathArb })

const options = (strategy: Strategy): TransportOptions => ({ strategy, staggerMs: 250, attemptTimeoutMs: 2000 })

/** Does an attempt on `t` succeed, and when (relative to its start)? */
const outcomeOf = (path: Path, timeoutMs: number) =>
  path.reachable && path.latencyMs < timeoutMs
    ? { ok: true, after: path.latencyMs }
    : { ok: false, after: path.refusedAfterMs ?? timeoutMs }

const works = (network: Network, t: MediaTransport, timeoutMs: number) => outcomeOf(network[t], timeoutMs).ok

/** Runs the decision to its end; returns what it chose and when. */
const simulate = (candidates: ReadonlyArray<MediaTransport>, network: Network, opts: TransportOptions) => {
  let now = 0
  let attempts: Array<Attempt> = []
  for (let step = 0; step < 100; step++) {
    const d = decide(candidates, attempts, now, opts)
    if (d._tag === "Start") {
      attempts = [...attempts, { transport: d.transport, startedAt: now }]
      continue
    }
    if (d._tag === "Chosen") return { chosen: d.transport as MediaTransport | undefined, at: now, attempts }
    if (d._tag === "Failed") return { chosen: undefined, at: now, attempts }
    const pending = attempts.filter((a) => a.outcome === undefined)
    const due = pending.map((a) => a.startedAt + outcomeOf(network[a.transport], opts.attemptTimeoutMs).after)
    const next = Math.min(d.until ?? Infinity, ...due)
    expect(next).toBeGreaterThanOrEqual(now)
    expect(Number.isFinite(next)).toBe(true)
    now = next
    attempts = attempts.map((a) => {
      if (a.outcome !== undefined) return a
      const o = outcomeOf(network[a.transport], opts.attemptTimeoutMs)
      return a.startedAt + o.after <= now ? { ...a, outcome: { ok: o.ok, at: a.startedAt + o.after } } : a
    })
  }
  throw new Error("the decision did not finish in 100 steps")
}

const all = candidatesFor(false)

describe("media transport decision", () => {
  it.prop("never chooses a transport that does not work, and fails only when none does", [networkArb, fc.constantFrom<Strategy>("sequential", "race")], ([network, strategy]) => {
    const { chosen } = simulate(all, network, options(strategy))
    const working = all.filter((t) => works(network, t, 2000))
    if (chosen === undefined) expect(working).toEqual([])
    else expect(working).toContain(chosen)
  })

  it.prop("sequential takes the first transport in UDP → TCP → TLS order that works", [networkArb], ([network]) => {
    const { chosen } = simulate(all, network, options("sequential"))
    expect(chosen).toBe(all.find((t) => works(network, t, 2000)))
  })

  it.prop("race finishes no later than sequential, on every network", [networkArb], ([network]) => {
    const race = simulate(all, network, options("race"))
    const sequential = simulate(all, network, options("sequential"))
    expect(race.at).toBeLessThanOrEqual(sequential.at)
  })

  it.prop("race keeps UDP whenever UDP answers within its head start", [networkArb], ([network]) => {
    fc.pre(network.udp.reachable && network.udp.latencyMs <= 250)
    expect(simulate(all, network, options("race")).chosen).toBe("udp")
  })

  it.prop("race over a silently blocked UDP costs the stagger, not UDP's timeout", [networkArb], ([network]) => {
    const blockedUdp: Network = { ...network, udp: { reachable: false, latencyMs: 0, refusedAfterMs: undefined } }
    fc.pre(works(blockedUdp, "tcp", 2000))
    const race = simulate(all, blockedUdp, options("race"))
    expect(race.chosen === "tcp" || race.chosen === "tls").toBe(true)
    expect(race.at).toBeLessThanOrEqual(250 + blockedUdp.tcp.latencyMs)
  })

  it.prop("behind a proxy, tries TLS and nothing else", [networkArb, fc.constantFrom<Strategy>("sequential", "race")], ([network, strategy]) => {
    const { chosen, attempts } = simulate(candidatesFor(true), network, options(strategy))
    expect(attempts.map((a) => a.transport)).toEqual(["tls"])
    expect(chosen === undefined || chosen === "tls").toBe(true)
  })

  it("closes nothing it has not tried, and tries each transport once", () => {
    const network: Network = {
      udp: { reachable: false, latencyMs: 0, refusedAfterMs: undefined },
      tcp: { reachable: false, latencyMs: 0, refusedAfterMs: 5 },
      tls: { reachable: true, latencyMs: 40, refusedAfterMs: undefined },
    }
    const race = simulate(all, network, options("race"))
    expect(race.attempts.map((a) => [a.transport, a.startedAt])).toEqual([["udp", 0], ["tcp", 250], ["tls", 255]])
    expect(race).toMatchObject({ chosen: "tls", at: 295 })
    const sequential = simulate(all, network, options("sequential"))
    expect(sequential.attempts.map((a) => [a.transport, a.startedAt])).toEqual([["udp", 0], ["tcp", 2000], ["tls", 2005]])
    expect(sequential).toMatchObject({ chosen: "tls", at: 2045 })
  })
})
