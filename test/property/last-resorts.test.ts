/**
 * The last resorts as properties: the tunnel is used if and only if no
 * controller answered within the deadline (or media could not reach the MMR);
 * among tunnels, the first to answer wins whatever the latencies and failures.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Fallback from "../../src/actors/client/fallback.js"
import * as TunnelDecision from "../../src/actors/client/tunnel-decision.js"
import * as Selection from "../../src/actors/client/zone-selection.js"

const options = Selection.defaults // 5.5 s deadline

/**
 * Runs zone selection in virtual time against controllers that answer after
 * the given delays (undefined: never). Returns whether it ended unreachable,
 * and when the first answer to any probe it sent came (or would have come,
 * had it still been listening).
 */
const zonesUnreachable = (answerAfter: ReadonlyArray<number | undefined>): { readonly unreachable: boolean; readonly firstAnswerAt: number } => {
  const zones: ReadonlyArray<Selection.ZoneTarget> = answerAfter.map((_, i) => ({ zone: `z${i}`, rank: i, controllers: ["c"] }))
  let state = Selection.initial(0)
  let now = 0
  const inFlight: Array<{ zone: string; round: number; sample: number; sentAt: number }> = []
  let firstAnswerAt = Infinity
  const answerOf = (p: { zone: string; sentAt: number }) => {
    const up = answerAfter[Number(p.zone.slice(1))]
    const answersAt = up === undefined ? Infinity : Math.max(p.sentAt, up)
    return answersAt - p.sentAt < options.probeTimeoutMs ? { at: answersAt, ok: true } : { at: p.sentAt + options.probeTimeoutMs, ok: false }
  }
  for (let step = 0; step < 10_000; step++) {
    const d = Selection.decide(zones, options, state, now)
    if (d._tag === "Chosen" || d._tag === "Unreachable") {
      // Probes still in flight count too: an answer the selection gave up on before it came is the defect.
      for (const p of inFlight) if (answerOf(p).ok) firstAnswerAt = Math.min(firstAnswerAt, answerOf(p).at)
      return { unreachable: d._tag === "Unreachable", firstAnswerAt }
    }
    if (d._tag === "ProbeAgain") {
      state = Selection.startRound(state, d.round, Selection.probesPerRound(zones, options))
      for (const z of zones) for (let s = 0; s < options.samples; s++) inFlight.push({ zone: z.zone, round: d.round, sample: s, sentAt: now + s * options.sampleSpacingMs })
      continue
    }
    // A probe answers if its controller is up by then (and within the probe timeout); else times out.
    const due = inFlight.map((p) => ({ p, ...answerOf(p) }))
    const next = Math.min(d.until, ...due.map((x) => x.at))
    now = next
    for (const x of due.filter((x) => x.at <= now)) {
      inFlight.splice(inFlight.indexOf(x.p), 1)
      if (x.ok) firstAnswerAt = Math.min(firstAnswerAt, x.at)
      state = Selection.observe(state, {
        zone: x.p.zone,
        controller: "c",
        round: x.p.round,
        sample: x.p.sample,
        result: x.ok ? { _tag: "answered", rttMs: 1 } : { _tag: "lost", reason: "RequestTimeout" },
        at: x.at,
      })
    }
  }
  throw new Error("zone selection did not finish")
}

describe("last resorts", () => {
  it.prop(
    "the tunnel is tried if and only if no controller answered within 5.5 s",
    [fc.array(fc.option(fc.integer({ min: 0, max: 9000 }), { nil: undefined }), { minLength: 1, maxLength: 3 })],
    ([answerAfter]) => {
      const { unreachable, firstAnswerAt } = zonesUnreachable(answerAfter)
      // Both sides of the "iff", on the answers themselves: an answer by the deadline (at it still counts)
      // means no tunnel; none by then means the tunnel.
      expect(unreachable).toBe(firstAnswerAt > options.deadlineMs)
      // And probing keeps going: a controller up well before the deadline is heard in time.
      const earliest = Math.min(...answerAfter.map((a) => a ?? Infinity))
      if (earliest <= 5000) expect(firstAnswerAt).toBeLessThanOrEqual(options.deadlineMs)
      if (earliest > options.deadlineMs) expect(unreachable).toBe(true)
      const next = Fallback.next("direct", unreachable ? "zones-unreachable" : "connected", true)
      expect(next === "tunnel").toBe(unreachable)
    },
    { fastCheck: { numRuns: 300 } },
  )

  it.prop(
    "after the tunnel, only the web client is left; without tunnels it comes straight after direct",
    [fc.constantFrom<Fallback.Ending>("zones-unreachable", "media-unreachable", "no-mmr", "rejected", "tunnel-failed", "connected")],
    ([ending]) => {
      const fromTunnel = Fallback.next("tunnel", ending, true)
      expect(fromTunnel).toBe(ending === "connected" || ending === "rejected" ? "done" : "web-client")
      const noTunnels = Fallback.next("direct", ending, false)
      expect(noTunnels === "tunnel").toBe(false)
      if (ending === "zones-unreachable" || ending === "media-unreachable") expect(noTunnels).toBe("web-client")
    },
  )

  it.prop(
    "the first tunnel to answer wins, whatever the others' latencies and failures",
    [
      fc.array(
        fc.record({ latency: fc.integer({ min: 0, max: 5000 }), ok: fc.boolean() }),
        { minLength: 1, maxLength: 6 },
      ),
    ],
    ([pings]) => {
      const tunnels = pings.map((_, i) => `t${i}`)
      const timeoutMs = 3000
      // Everything that has happened by the timeout:
      const outcomes = pings
        .map((p, i) => ({ tunnel: `t${i}`, ok: p.ok, at: p.latency }))
        .filter((o) => o.at < timeoutMs)
      const decision = TunnelDecision.decide(tunnels, outcomes, 0, timeoutMs, timeoutMs)
      const answered = outcomes.filter((o) => o.ok).sort((a, b) => a.at - b.at || tunnels.indexOf(a.tunnel) - tunnels.indexOf(b.tunnel))
      if (answered.length === 0) expect(decision._tag).toBe("Failed")
      else expect(decision).toEqual({ _tag: "Chosen", tunnel: answered[0]!.tunnel })
    },
  )

  it.prop(
    "chooses as soon as someone answers, without waiting for slower tunnels",
    [fc.integer({ min: 0, max: 2999 }), fc.integer({ min: 1, max: 5 })],
    ([at, others]) => {
      const tunnels = Array.from({ length: others + 1 }, (_, i) => `t${i}`)
      const decision = TunnelDecision.decide(tunnels, [{ tunnel: `t${others}`, ok: true, at }], 0, at, 3000)
      expect(decision).toEqual({ _tag: "Chosen", tunnel: `t${others}` })
    },
  )
})
