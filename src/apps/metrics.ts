/**
 * Prometheus metrics of the actors one process runs, with prom-client (the
 * client library Prometheus users know; text exposition format 0.0.4).
 * Counters the actors keep are read at scrape time; joins clients report to
 * a web lookup are counted as they arrive.
 *
 *   meetzone_joins_total{path,outcome}                 joins clients reported (web)
 *   meetzone_join_seconds{path}                        join time, histogram (web)
 *   meetzone_join_phase_seconds{phase,outcome}         per phase, histogram (web)
 *   meetzone_join_info_total{web}                      join-info answers (web)
 *   meetzone_probes_total{zone,controller}             probes answered
 *   meetzone_placements_total{zone,controller,outcome} assigns: placed | moved | kept | no-capacity
 *   meetzone_mute_reports_total{zone,controller,outcome} participants finding media mute: confirmed | unconfirmed
 *   meetzone_mmr_meetings / _participants / _capacity / _draining {zone,mmr}
 *   meetzone_mmr_packets_total{zone,mmr,kind,direction}  in | out
 *   meetzone_mmr_bytes_total{zone,mmr,kind,direction}
 *   meetzone_mmr_drops_total{zone,mmr,kind}            not sent to a slow or gone receiver
 *   meetzone_mmr_rejected_total{zone,mmr,reason}       unbound, malformed, forged, expired, replayed…
 *   meetzone_tunnel_sessions{tunnel}                   open now
 *   meetzone_tunnel_sessions_total{tunnel}
 *   meetzone_tunnel_packets_total{tunnel,direction}    up | down
 *   meetzone_tunnel_dropped_total{tunnel}
 *   meetzone_actor_messages_total{actor,result}        received, succeeded, failed, decode-error, defect, overloaded
 *   meetzone_actor_restarts_total{actor}
 *   + prom-client's process metrics, prefixed meetzone_ (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, …)
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client"
import type { Actor, JoinTokens, Mmr, Topology as TopologyModule } from "../index.js"

type Topology = TopologyModule.Topology
type ActorRef = Actor.ActorRef

/** Sets a counter to an absolute value the actor keeps (it is monotonic there). */
const setCounter = (counter: Counter<string>, labels: Record<string, string>, value: number) => counter.inc(labels, value)

/**
 * A registry with every metric of `topology`'s actors (only those this
 * process runs).
 *
 * @category constructors
 */
export const registry = (
  topology: Topology,
  tokens?: JoinTokens.JoinTokensShape,
): { readonly registry: Registry; readonly close: () => void } => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: "meetzone_" })
  const registers = [registry]

  // --- join tokens (every actor that checks them) --------------------------------------
  new Counter({
    name: "meetzone_join_tokens_refused_total",
    help: "Join tokens this process refused: forged (bad signature), expired, malformed",
    labelNames: ["kind"],
    registers,
    collect() {
      this.reset()
      const refused = tokens?.refused?.()
      if (refused !== undefined) for (const kind of ["forged", "expired", "malformed"] as const) setCounter(this, { kind }, refused[kind])
    },
  })

  // --- joins (web lookups) ---------------------------------------------------------
  const joins = new Counter({ name: "meetzone_joins_total", help: "Joins clients reported, by path and outcome", labelNames: ["path", "outcome"], registers })
  const joinSeconds = new Histogram({
    name: "meetzone_join_seconds",
    help: "Join time clients reported (lookup to media connected), by path",
    labelNames: ["path"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5.5, 8, 12, 20],
    registers,
  })
  const phaseSeconds = new Histogram({
    name: "meetzone_join_phase_seconds",
    help: "Time of each join phase clients reported",
    labelNames: ["phase", "outcome"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5.5, 10],
    registers,
  })
  const unsubscribe = topology.web.map((w) =>
    w.joins.onJoin((j) => {
      const path = j.path ?? "none"
      joins.inc({ path, outcome: j.outcome })
      joinSeconds.observe({ path }, j.totalMs / 1000)
      for (const p of j.phases) if (p.outcome !== "skipped") phaseSeconds.observe({ phase: p.name, outcome: p.outcome }, p.ms / 1000)
    }),
  )
  new Counter({
    name: "meetzone_join_info_total",
    help: "Join-info answers given",
    labelNames: ["web"],
    registers,
    collect() {
      this.reset()
      for (const w of topology.web) setCounter(this, { web: w.id }, w.joinInfos())
    },
  })
  new Counter({
    name: "meetzone_relay_refused_total",
    help: "Relay connections refused for a missing, forged or expired join token",
    labelNames: ["web"],
    registers,
    collect() {
      this.reset()
      for (const w of topology.web) setCounter(this, { web: w.id }, w.relayRefused())
    },
  })
  new Counter({
    name: "meetzone_media_key_epochs_total",
    help: "New media key epochs this web server made (someone left, or the re-key period)",
    labelNames: ["web"],
    registers,
    collect() {
      this.reset()
      for (const w of topology.web) setCounter(this, { web: w.id }, w.keyEpochs())
    },
  })

  // --- controllers ------------------------------------------------------------------
  new Counter({
    name: "meetzone_probes_total",
    help: "Probes answered",
    labelNames: ["zone", "controller"],
    registers,
    collect() {
      this.reset()
      for (const c of topology.controllers) setCounter(this, { zone: c.zone, controller: c.id }, c.handle.stats().probes)
    },
  })
  new Counter({
    name: "meetzone_placements_total",
    help: "Assigns answered, by outcome: placed (new), moved (off a dead or leaving MMR), kept (existing host), no-capacity",
    labelNames: ["zone", "controller", "outcome"],
    registers,
    collect() {
      this.reset()
      for (const c of topology.controllers) {
        const { placed, moved, kept, noCapacity } = c.handle.stats().assigns
        const labels = { zone: c.zone, controller: c.id }
        setCounter(this, { ...labels, outcome: "placed" }, placed)
        setCounter(this, { ...labels, outcome: "moved" }, moved)
        setCounter(this, { ...labels, outcome: "kept" }, kept)
        setCounter(this, { ...labels, outcome: "no-capacity" }, noCapacity)
      }
    },
  })
  new Counter({
    name: "meetzone_mute_reports_total",
    help: "Participants' reports that their media to an MMR is mute: confirmed (the meeting moved) or unconfirmed (kept)",
    labelNames: ["zone", "controller", "outcome"],
    registers,
    collect() {
      this.reset()
      for (const c of topology.controllers) {
        const { confirmed, unconfirmed } = c.handle.stats().mute
        setCounter(this, { zone: c.zone, controller: c.id, outcome: "confirmed" }, confirmed)
        setCounter(this, { zone: c.zone, controller: c.id, outcome: "unconfirmed" }, unconfirmed)
      }
    },
  })

  // --- MMRs ----------------------------------------------------------------------------
  const mmrGauge = (name: string, help: string, read: (m: Topology["mmrs"][number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["zone", "mmr"],
      registers,
      collect() {
        this.reset()
        for (const m of topology.mmrs) this.set({ zone: m.zone, mmr: m.id }, read(m))
      },
    })
  const hosted = (m: Topology["mmrs"][number]) => Effect.runSync(m.handle.meetings)
  mmrGauge("meetzone_mmr_meetings", "Meetings hosted", (m) => hosted(m).size)
  mmrGauge("meetzone_mmr_participants", "Participants admitted", (m) => [...hosted(m).values()].reduce((n, ps) => n + ps.length, 0))
  mmrGauge("meetzone_mmr_capacity", "Participants it will take", (m) => m.handle.capacity)
  mmrGauge("meetzone_mmr_draining", "1 while draining (no new meetings)", (m) => (m.handle.isDraining() ? 1 : 0))
  const perKind = (name: string, help: string, withDirection: boolean, read: (t: Mmr.KindTotals, direction: "in" | "out") => number) =>
    new Counter({
      name,
      help,
      labelNames: withDirection ? ["zone", "mmr", "kind", "direction"] : ["zone", "mmr", "kind"],
      registers,
      collect() {
        this.reset()
        for (const m of topology.mmrs) {
          const sfu = m.handle.media?.sfu
          if (sfu === undefined) continue
          for (const [kind, totals] of Object.entries(sfu.byKind)) {
            const labels = { zone: m.zone, mmr: m.id, kind }
            if (withDirection) {
              setCounter(this, { ...labels, direction: "in" }, read(totals, "in"))
              setCounter(this, { ...labels, direction: "out" }, read(totals, "out"))
            } else setCounter(this, labels, read(totals, "in"))
          }
        }
      },
    })
  perKind("meetzone_mmr_packets_total", "Media packets received from and forwarded to participants", true, (t, d) => (d === "in" ? t.packetsIn : t.packetsOut))
  perKind("meetzone_mmr_bytes_total", "Media bytes received from and forwarded to participants", true, (t, d) => (d === "in" ? t.bytesIn : t.bytesOut))
  // RTCP, both directions: in = participant → MMR (the MMR's own receiver reports), out = MMR → participant (theirs).
  const quality = (name: string, help: string, read: (q: Mmr.KindQuality) => ReadonlyArray<readonly [string | undefined, number, number]>) =>
    new Gauge({
      name,
      help,
      labelNames: ["zone", "mmr", "kind", "direction"],
      registers,
      collect() {
        this.reset()
        for (const m of topology.mmrs) {
          for (const [kind, q] of Object.entries(m.handle.media?.sfu.quality() ?? {})) {
            for (const [direction, value, n] of read(q)) if (n > 0) this.set({ zone: m.zone, mmr: m.id, kind, ...(direction !== undefined ? { direction } : {}) }, value)
          }
        }
      },
    })
  quality("meetzone_mmr_stream_loss_ratio", "Fraction lost in the last RTCP interval, mean over media connections", (q) => [
    ["in", q.in.loss, q.in.connections],
    ["out", q.out.loss, q.out.reports],
  ])
  quality("meetzone_mmr_stream_jitter_ms", "Interarrival jitter (RFC 3550), mean over media connections", (q) => [
    ["in", q.in.jitterMs, q.in.connections],
    ["out", q.out.jitterMs, q.out.reports],
  ])
  quality("meetzone_mmr_rtt_ms", "Round trip to participants from RTCP (LSR/DLSR), mean over media connections", (q) => [[undefined, q.rtt.ms, q.rtt.connections]])
  new Counter({
    name: "meetzone_mmr_rtcp_packets_total",
    help: "RTCP compound packets: in from participants, out (receiver reports and sender infos passed on) to them",
    labelNames: ["zone", "mmr", "direction"],
    registers,
    collect() {
      this.reset()
      for (const m of topology.mmrs) {
        const c = m.handle.media?.sfu.rtcp.counters
        if (c === undefined) continue
        setCounter(this, { zone: m.zone, mmr: m.id, direction: "in" }, c.received)
        setCounter(this, { zone: m.zone, mmr: m.id, direction: "out" }, c.sent + c.senderReportsForwarded)
      }
    },
  })
  perKind("meetzone_mmr_drops_total", "Packets not sent to a receiver that fell behind or went away", false, (t) => t.drops)
  new Counter({
    name: "meetzone_mmr_rejected_total",
    help: "Media packets and bindings refused, by reason",
    labelNames: ["zone", "mmr", "reason"],
    registers,
    collect() {
      this.reset()
      for (const m of topology.mmrs) {
        const c = m.handle.media?.sfu.counters
        if (c === undefined) continue
        const labels = { zone: m.zone, mmr: m.id }
        for (const reason of ["unbound", "malformed", "forged", "expired", "replayed", "unknownParticipant", "refused", "overRate"] as const) {
          setCounter(this, { ...labels, reason }, c[reason])
        }
        // Joins and Leaves without the participant's session secret: a copied join token at work.
        setCounter(this, { ...labels, reason: "sessionTaken" }, m.handle.sessionsRefused())
      }
    },
  })

  new Counter({
    name: "meetzone_mmr_fenced_total",
    help: "Meetings an MMR stopped serving because it could not confirm they were placed on it",
    labelNames: ["zone", "mmr"],
    registers,
    collect() {
      this.reset()
      for (const m of topology.mmrs) setCounter(this, { zone: m.zone, mmr: m.id }, m.handle.fenced())
    },
  })

  // --- tunnels ----------------------------------------------------------------------------
  new Gauge({
    name: "meetzone_tunnel_sessions",
    help: "Client sessions open now",
    labelNames: ["tunnel"],
    registers,
    collect() {
      this.reset()
      for (const t of topology.tunnels) this.set({ tunnel: t.id }, t.stats.sessions)
    },
  })
  const tunnelCounter = (name: string, help: string, read: (t: Topology["tunnels"][number]) => ReadonlyArray<readonly [Record<string, string>, number]>) =>
    new Counter({
      name,
      help,
      labelNames: ["tunnel", "direction"],
      registers,
      collect() {
        this.reset()
        for (const t of topology.tunnels) for (const [labels, v] of read(t)) setCounter(this, { tunnel: t.id, ...labels }, v)
      },
    })
  tunnelCounter("meetzone_tunnel_sessions_total", "Client sessions opened", (t) => [[{}, t.stats.sessionsTotal]])
  tunnelCounter("meetzone_tunnel_packets_total", "Media packets relayed, up (client → MMR) and down", (t) => [
    [{ direction: "up" }, t.stats.packetsUp],
    [{ direction: "down" }, t.stats.packetsDown],
  ])
  tunnelCounter("meetzone_tunnel_dropped_total", "Media not relayed (client behind, channel not open)", (t) => [[{}, t.stats.dropped]])

  // --- actors -------------------------------------------------------------------------------
  const actors: ReadonlyArray<ActorRef> = [...topology.controllers.map((c) => c.handle.ref), ...topology.mmrs.map((m) => m.handle.ref)]
  new Counter({
    name: "meetzone_actor_messages_total",
    help: "Messages an actor took, by result",
    labelNames: ["actor", "result"],
    registers,
    collect() {
      this.reset()
      for (const a of actors) {
        const s = Effect.runSync(a.stats)
        const results = { received: s.received, succeeded: s.succeeded, failed: s.failed, "decode-error": s.decodeErrors, defect: s.defects, overloaded: s.overloaded }
        for (const [result, v] of Object.entries(results)) setCounter(this, { actor: a.name, result }, v)
      }
    },
  })
  new Counter({
    name: "meetzone_actor_restarts_total",
    help: "Restarts after a defect",
    labelNames: ["actor"],
    registers,
    collect() {
      this.reset()
      for (const a of actors) setCounter(this, { actor: a.name }, Effect.runSync(a.stats).restarts)
    },
  })

  return { registry, close: () => unsubscribe.forEach((u) => u()) }
}
