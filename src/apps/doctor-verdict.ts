/**
 * `meetzone doctor`'s judgement: what each check found, as table rows; which
 * path a join would take and why (the connection process's own order:
 * direct — through the proxy when there is one — with UDP, else TCP, else
 * TLS; else the first tunnel; else the web client); and what to open in a
 * firewall for a better path. Pure: the checks' results in, text out.
 *
 * @since 0.3.0
 */
import type { JoinReport as Report, Protocol } from "../index.js"

type JoinReport = Report.JoinReport
type MediaKindReport = Report.MediaKindReport
type MediaTransport = Protocol.Media.MediaTransport
type JoinInfo = Protocol.WebApi.JoinInfo

/** A join tried for one path (or one transport) alone. @category models */
export interface Trial {
  readonly report?: JoinReport
  /** Why it did not connect. */
  readonly error?: { readonly tag: string; readonly message: string }
  /** Why it was not tried. */
  readonly skipped?: string
}

/** @category models */
export interface Probe {
  readonly ok: boolean
  readonly ms: number
  readonly detail: string
}

/** What the checks found. @category models */
export interface Findings {
  readonly web: string
  readonly proxy?: string
  /** `untrusted`: the handshake came through and the certificate did not verify. */
  readonly webTls: Probe & { readonly untrusted?: boolean }
  readonly lookup: Probe & { readonly info?: JoinInfo }
  /** A join with no media: the controllers, the placement and the MMR. */
  readonly control: Trial & { readonly media?: { readonly host: string; readonly port: number; readonly tlsPort: number } }
  readonly media: Readonly<Record<MediaTransport, Trial>>
  readonly tunnels: ReadonlyArray<Probe & { readonly id: string; readonly url: string }>
  readonly tunnelMedia: Trial
}

/** @category models */
export interface Row {
  readonly step: string
  readonly target: string
  readonly outcome: "ok" | "failed" | "skipped"
  readonly ms?: number
  readonly detail: string
}

/** @category models */
export interface Verdict {
  readonly path: "direct" | "proxy" | "tunnel" | "web-client" | "none"
  readonly transport?: MediaTransport | "tunnel"
  readonly why: string
}

/** @category models */
export interface Diagnosis {
  readonly web: string
  readonly proxy?: string
  readonly rows: ReadonlyArray<Row>
  readonly verdict: Verdict
  /** What to open for a better path, one line each; empty when the best path works. */
  readonly firewall: ReadonlyArray<string>
}

const hostPort = (url: string) => {
  const u = new URL(url)
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port !== "" ? u.port : u.protocol === "http:" || u.protocol === "ws:" ? 80 : 443) }
}

const round = (ms: number) => (ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms))

/** The trial's one media kind, when it connected. */
const kindOf = (t: Trial): MediaKindReport | undefined => t.report?.media?.[0]

/** Loss and round trip as the MMR's receiver reports tell them, and the DSCP mark. */
const echo = (m: MediaKindReport): string => {
  const rtt = m.rtcp?.rttMs ?? m.rtcp?.up?.rttMs
  const loss = m.rtcp?.up?.loss
  return [
    rtt !== undefined ? `rtt ${round(rtt)} ms` : "no round trip measured yet",
    loss !== undefined ? `loss ${Math.round(loss * 100)} %` : `${m.sent} sent`,
    m.transport === "tunnel" ? undefined : m.marked ? `DSCP ${m.dscp} marked` : `DSCP ${m.dscp} not marked (the host refused IP_TOS)`,
  ]
    .filter((x) => x !== undefined)
    .join(", ")
}

const trialRow = (step: string, target: string, t: Trial): Row => {
  if (t.skipped !== undefined) return { step, target, outcome: "skipped", detail: t.skipped }
  const m = kindOf(t)
  if (t.error !== undefined || m === undefined) return { step, target, outcome: "failed", detail: t.error?.message ?? "connected without media" }
  const attempt = t.report?.phases.find((p) => p.name === "media")?.attempts.find((a) => a.outcome === "ok")
  return { step, target, outcome: "ok", ...(attempt !== undefined ? { ms: attempt.ms } : {}), detail: echo(m) }
}

/** Each controller's best probe, and how control was reached, from the control trial's zone selection. */
const controlRows = (f: Findings): ReadonlyArray<Row> => {
  const phase = f.control.report?.phases.find((p) => p.name === "zone-selection")
  if (phase === undefined) return [{ step: "controllers", target: "—", outcome: "skipped", detail: f.control.skipped ?? f.control.error?.message ?? "not reached" }]
  const rows: Array<Row> = []
  for (const a of phase.attempts.filter((a) => a.action === "connect" || a.action.startsWith("control via"))) {
    if (a.action === "connect" && a.outcome === "ok") continue // its "control via" line says more
    rows.push({ step: "control", target: a.target, outcome: a.outcome === "ok" ? "ok" : "failed", ms: a.ms, detail: a.action === "connect" ? (a.detail ?? a.outcome) : a.action })
  }
  const probes = new Map<string, { best?: number; failure?: string }>()
  for (const a of phase.attempts.filter((a) => a.action.startsWith("probe"))) {
    const p = probes.get(a.target) ?? {}
    if (a.outcome === "ok") p.best = Math.min(p.best ?? Infinity, a.ms)
    else p.failure = a.detail ?? a.outcome
    probes.set(a.target, p)
  }
  for (const zone of f.lookup.info?.zones ?? []) {
    for (const c of zone.controllers) {
      const p = probes.get(`${zone.id}/${c.id}`)
      rows.push(
        p?.best !== undefined
          ? { step: "controller", target: `${zone.id}/${c.id}`, outcome: "ok", ms: round(p.best), detail: "answered a probe" }
          : { step: "controller", target: `${zone.id}/${c.id}`, outcome: "failed", detail: p?.failure ?? "no probe sent: its zone's control connection failed" },
      )
    }
  }
  const placed = f.control.report
  rows.push(
    placed?.mmr !== undefined
      ? { step: "placement", target: `${placed.zone}/${placed.mmr}`, outcome: "ok", detail: f.control.media !== undefined ? `media at ${f.control.media.host}: UDP/TCP ${f.control.media.port}, TLS ${f.control.media.tlsPort}` : "no media plane" }
      : { step: "placement", target: "—", outcome: f.control.error?.tag === "ZonesUnreachable" ? "skipped" : "failed", detail: f.control.error?.message ?? "not placed" },
  )
  return rows
}

const candidates = (f: Findings): ReadonlyArray<MediaTransport> => (f.proxy !== undefined ? ["tls"] : ["udp", "tcp", "tls"])
const works = (t: Trial) => t.error === undefined && t.skipped === undefined && kindOf(t) !== undefined

/** What a join would do, by the connection process's order. @category judging */
export const verdict = (f: Findings): Verdict => {
  if (!f.lookup.ok)
    return {
      path: "none",
      why: f.webTls.untrusted === true
        ? "the web lookup's certificate does not verify here: give the deployment's CA with --ca (a join would fail the same way)"
        : `the web lookup did not answer (${f.lookup.detail}): no join can start`,
    }
  const best = f.control.error === undefined ? candidates(f).find((t) => works(f.media[t])) : undefined
  if (best !== undefined) {
    const before = candidates(f).slice(0, candidates(f).indexOf(best))
    const passed = before.map((t) => `${t.toUpperCase()} did not connect`).join(", ")
    return {
      path: f.proxy !== undefined ? "proxy" : "direct",
      transport: best,
      why: `${f.control.report?.zone ?? "a zone"}'s controllers answered and ${best.toUpperCase()} media to ${f.control.report?.mmr ?? "the MMR"} works${f.proxy !== undefined ? ` through ${f.proxy}` : ""}${passed !== "" ? ` (${passed})` : ""}`,
    }
  }
  const direct = f.control.error !== undefined ? f.control.error.message : "no media transport reached the MMR"
  if (works(f.tunnelMedia)) {
    const tunnel = f.tunnels.find((t) => t.ok)
    return { path: "tunnel", transport: "tunnel", why: `direct: ${direct}; the tunnel ${tunnel?.id ?? ""} answered and carries media` }
  }
  const tunnel = f.tunnels.length === 0 ? "the lookup listed no tunnel" : (f.tunnelMedia.error?.message ?? f.tunnelMedia.skipped ?? "no tunnel answered")
  return { path: "web-client", why: `direct: ${direct}; tunnel: ${tunnel}; the browser client at ${f.lookup.info?.webClientUrl ?? "the web lookup"} is what is left` }
}

/** Ports to open, for each step that failed on the way to the best path. @category judging */
export const firewall = (f: Findings, v: Verdict = verdict(f)): ReadonlyArray<string> => {
  const web = hostPort(f.web)
  if (v.path === "none" && f.webTls.untrusted === true) return []
  if (v.path === "none") return [f.proxy !== undefined ? `TCP to the proxy ${f.proxy}, and from it to ${web.host}:${web.port}` : `TCP ${web.host}:${web.port} (the web lookup, HTTPS)`]
  if (v.transport === "udp") return []
  const lines: Array<string> = []
  const info = f.lookup.info
  if (f.control.error !== undefined && info !== undefined) {
    const nats = new Set(info.zones.flatMap((z) => z.nats))
    for (const n of nats) {
      const { host, port } = hostPort(n.includes("://") ? n : `nats://${n}`)
      lines.push(`TCP ${host}:${port} (NATS: the zone controllers)`)
    }
    const relay = hostPort(info.relay)
    lines.push(`or TCP ${relay.host}:${relay.port} (the relay: control as WebSocket over TLS)`)
  }
  const media = f.control.media
  if (f.proxy === undefined) {
    const where = media !== undefined ? media.host : "the MMR"
    lines.push(`UDP ${where}:${media?.port ?? "its media port"} (media; the best path)`)
    if (v.transport !== "tcp" && v.transport !== "tls") lines.push(`or TCP ${where}:${media?.port ?? "its media port"}, or TCP ${where}:${media?.tlsPort ?? "its TLS port"} (media over TLS)`)
  } else if (v.path !== "proxy") lines.push(`through the proxy: CONNECT to ${media !== undefined ? `${media.host}:${media.tlsPort}` : "the MMR's TLS port"} (media over TLS)`)
  if (v.path === "web-client")
    for (const t of f.tunnels) {
      const { host, port } = hostPort(t.url)
      lines.push(`or TCP ${host}:${port} (HTTP tunnel ${t.id})`)
    }
  return lines
}

/** The whole judgement. @category judging */
export const diagnose = (f: Findings): Diagnosis => {
  const web = hostPort(f.web)
  const mediaTarget = (t: MediaTransport) =>
    `${f.control.report?.mmr ?? "MMR"} ${f.control.media !== undefined ? `${f.control.media.host}:${t === "tls" ? f.control.media.tlsPort : f.control.media.port}` : ""}`.trim()
  const rows: Array<Row> = [
    { step: "web TLS", target: `${web.host}:${web.port}`, outcome: f.webTls.ok ? "ok" : "failed", ms: f.webTls.ms, detail: f.webTls.detail },
    {
      step: "proxy",
      target: f.proxy ?? "—",
      outcome: f.proxy === undefined ? "skipped" : f.lookup.ok ? "ok" : "failed",
      detail: f.proxy === undefined ? "none set (HTTPS_PROXY, --proxy): straight to the deployment" : f.lookup.ok ? "the lookup went through it; media can only go as TLS" : "the lookup through it failed",
    },
    { step: "lookup", target: new URL(f.web).origin, outcome: f.lookup.ok ? "ok" : "failed", ms: f.lookup.ms, detail: f.lookup.detail },
    ...(f.lookup.ok ? controlRows(f) : []),
    ...(f.lookup.ok ? (["udp", "tcp", "tls"] as const).map((t) => trialRow(`media ${t.toUpperCase()}`, mediaTarget(t), f.media[t])) : []),
    ...f.tunnels.map((t): Row => ({ step: "tunnel", target: `${t.id} ${t.url}`, outcome: t.ok ? "ok" : "failed", ms: t.ms, detail: t.detail })),
    ...(f.lookup.ok ? [trialRow("tunnel media", f.tunnels.find((t) => t.ok)?.id ?? "—", f.tunnelMedia)] : []),
    {
      step: "web client",
      target: f.lookup.info?.webClientUrl ?? `${new URL(f.web).origin}/j/…`,
      outcome: f.webTls.ok ? "ok" : "failed",
      detail: f.webTls.ok
        ? "served over the web lookup's TLS (checked above)"
        : f.webTls.untrusted === true
          ? "a browser that does not trust the deployment's CA refuses it"
          : "the web lookup is out of reach from here",
    },
  ]
  const v = verdict(f)
  return { web: f.web, ...(f.proxy !== undefined ? { proxy: f.proxy } : {}), rows, verdict: v, firewall: firewall(f, v) }
}

/** The diagnosis as a table and two paragraphs. @category rendering */
export const format = (d: Diagnosis): string => {
  const cells = d.rows.map((r) => [r.step, r.target, r.outcome, r.ms !== undefined ? `${round(r.ms)} ms` : "", r.detail])
  const widths = [0, 1, 2, 3].map((i) => Math.max(...cells.map((c) => c[i]!.length), ["step", "target", "result", "time"][i]!.length))
  const line = (c: ReadonlyArray<string>) => c.map((x, i) => (i < 4 ? x.padEnd(widths[i]!) : x)).join("  ").trimEnd()
  const join =
    d.verdict.path === "none"
      ? "A join would fail: "
      : `A join would go ${d.verdict.path === "web-client" ? "to the web client" : `${d.verdict.path}, media over ${d.verdict.transport?.toUpperCase()}`}: `
  return [
    `meetzone doctor: ${d.web}${d.proxy !== undefined ? ` through ${d.proxy}` : ""}`,
    "",
    line(["step", "target", "result", "time", "detail"]),
    ...cells.map(line),
    "",
    `${join}${d.verdict.why}.`,
    d.firewall.length > 0 ? `For a better path, open:\n${d.firewall.map((l) => `  ${l}`).join("\n")}` : d.verdict.transport === "udp" ? "Nothing to open: the best path works." : undefined,
  ]
    .filter((l) => l !== undefined)
    .join("\n")
}
