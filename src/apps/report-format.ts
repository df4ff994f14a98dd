/**
 * The join report for people: one line for the outcome, one per phase.
 *
 * @since 0.1.0
 */
import type { JoinReport as Report } from "../index.js"

type JoinReport = Report.JoinReport

const ms = (x: number) => `${x.toFixed(1)} ms`

/** @category formatting */
export const format = (report: JoinReport, name?: string): string => {
  const who = name !== undefined ? ` as ${name}` : ""
  const head =
    report.path === "web-client"
      ? `meeting ${report.meeting}${who}: nothing reached the meeting in ${ms(report.totalMs)}; open the web client: ${report.webClient?.url}`
      : report.path !== undefined
      ? `joined meeting ${report.meeting}${who}: ${report.path}${report.proxy ? ` (proxy ${report.proxy})` : ""}, zone ${report.zone}, MMR ${report.mmr}, in ${ms(report.totalMs)}`
      : `join of meeting ${report.meeting}${who} failed after ${ms(report.totalMs)}`
  const lines = [head]
  for (const p of report.phases) {
    const detail =
      p.outcome === "ok"
        ? (p.chosen ?? "")
        : (p.reason ?? "")
    const zones =
      p.zones !== undefined && p.zones.length > 0
        ? `  [${p.zones.map((z) => `${z.zone}: ${z.latencyMs !== undefined ? `${z.latencyMs} ms` : "no answer"}`).join(", ")}]`
        : ""
    lines.push(`  ${p.name.padEnd(15)} ${ms(p.ms).padStart(10)}  ${p.outcome.padEnd(7)} ${detail}${zones}`)
  }
  for (const [path, reason] of Object.entries(report.webClient?.reasons ?? {})) lines.push(`  ${path} path failed: ${reason}`)
  for (const m of report.media ?? []) {
    const from = Object.entries(m.receivedFrom).map(([who, n]) => `${who} ${n}`).join(", ")
    lines.push(
      `  ${m.kind.padEnd(8)} ${m.transport.padEnd(4)} dscp ${m.dscp}${m.marked ? "" : " (unmarked)"}  sent ${m.sent}  received ${m.received}${from ? ` (${from})` : ""}  loss ${(m.loss * 100).toFixed(1)}%  jitter ${m.jitterMs} ms  ${m.status}`,
    )
    // The other direction, as the MMR's RTCP receiver reports told it.
    const up = m.rtcp?.up
    if (up !== undefined || m.rtcp?.rttMs !== undefined) {
      lines.push(
        `  ${"".padEnd(8)} ${"".padEnd(4)} upstream (MMR's reports): ${up !== undefined ? `loss ${(up.loss * 100).toFixed(1)}% (${up.lost} lost)  jitter ${up.jitterMs.toFixed(2)} ms` : "no report yet"}${m.rtcp?.rttMs !== undefined ? `  rtt ${m.rtcp.rttMs} ms` : ""}`,
      )
    }
  }
  return lines.join("\n")
}
