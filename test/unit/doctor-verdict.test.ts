/**
 * The doctor's judgement (pure): it names the path the connection process
 * takes for every combination of what works, and the firewall advice leads
 * to the better path.
 */
import { describe, expect, it } from "vitest"
import type { Findings, Trial } from "../../src/apps/doctor-verdict.js"
import * as Doctor from "../../src/apps/doctor-verdict.js"
import type { JoinReport } from "../../src/protocol/join-report.js"
import type { JoinInfo } from "../../src/protocol/web-api.js"

const info = {
  zones: [{ id: "eu-west", nats: ["nats://10.0.0.1:4222"], controllers: [{ id: "c1", subject: "s" }] }],
  tunnels: [{ id: "tunnel-1", url: "wss://10.0.0.1:9443/tunnel" }],
  relay: "wss://10.0.0.1:8443/relay",
  webClientUrl: "https://10.0.0.1:8443/j/1",
  client: { address: "10.0.0.2" },
} as unknown as JoinInfo

const connected = (transport: "udp" | "tcp" | "tls" | "tunnel"): Trial => ({
  report: {
    zone: "eu-west",
    mmr: "mmr-1",
    phases: [],
    media: [{ kind: "audio", transport, dscp: 46, marked: true, sent: 10, rtcp: { sent: 2, received: 2, rttMs: 1.5, up: { loss: 0, lost: 0, jitterMs: 0 } } }],
  } as unknown as JoinReport,
})
const failed = (message: string): Trial => ({ error: { tag: "MediaUnreachable", message } })

const findings = (works: { control: boolean; udp: boolean; tcp: boolean; tls: boolean; tunnel: boolean }, proxy?: string): Findings => ({
  web: "https://10.0.0.1:8443",
  ...(proxy !== undefined ? { proxy } : {}),
  webTls: { ok: true, ms: 1, detail: "TLSv1.3" },
  lookup: { ok: true, ms: 1, detail: "ok", info },
  control: works.control
    ? { report: { zone: "eu-west", mmr: "mmr-1", phases: [] } as unknown as JoinReport, media: { host: "10.0.0.1", port: 40000, tlsPort: 40443 } }
    : { error: { tag: "ZonesUnreachable", message: "no zone controller answered within 5500 ms" } },
  media: {
    udp: proxy !== undefined ? { skipped: "behind a proxy" } : works.udp ? connected("udp") : failed("udp did not connect"),
    tcp: proxy !== undefined ? { skipped: "behind a proxy" } : works.tcp ? connected("tcp") : failed("tcp did not connect"),
    tls: works.tls ? connected("tls") : failed("tls did not connect"),
  },
  tunnels: [{ id: "tunnel-1", url: "wss://10.0.0.1:9443/tunnel", ok: works.tunnel, ms: 2, detail: "" }],
  tunnelMedia: works.tunnel ? connected("tunnel") : failed("no tunnel answered"),
})

describe("meetzone doctor's verdict", () => {
  it("names the path of the connection process for every combination of what works", () => {
    for (let bits = 0; bits < 32; bits++) {
      const works = { control: !!(bits & 1), udp: !!(bits & 2), tcp: !!(bits & 4), tls: !!(bits & 8), tunnel: !!(bits & 16) }
      const v = Doctor.verdict(findings(works))
      const first = (["udp", "tcp", "tls"] as const).find((t) => works[t])
      const expected = works.control && first !== undefined ? { path: "direct", transport: first } : works.tunnel ? { path: "tunnel", transport: "tunnel" } : { path: "web-client" }
      expect({ path: v.path, transport: v.transport }, JSON.stringify(works)).toEqual({ transport: undefined, ...expected })
      const advice = Doctor.firewall(findings(works), v)
      // Anything short of UDP says what to open for it; UDP itself needs nothing.
      if (v.transport === "udp") expect(advice).toEqual([])
      // (Without a controller there is no placement, so the MMR's address is not known.)
      else expect(advice.some((l) => l.startsWith(works.control ? "UDP 10.0.0.1:40000" : "UDP the MMR")), JSON.stringify(works)).toBe(true)
      if (!works.control) expect(advice).toContain("TCP 10.0.0.1:4222 (NATS: the zone controllers)")
      if (v.path === "web-client") expect(advice).toContain("or TCP 10.0.0.1:9443 (HTTP tunnel tunnel-1)")
    }
  })

  it("behind a proxy: TLS through it, UDP and TCP not tried", () => {
    const d = Doctor.diagnose(findings({ control: true, udp: false, tcp: false, tls: true, tunnel: true }, "http://proxy:3128"))
    expect(d.verdict).toMatchObject({ path: "proxy", transport: "tls" })
    expect(d.rows.find((r) => r.step === "media UDP")!.outcome).toBe("skipped")
    expect(d.rows.find((r) => r.step === "media TLS")).toMatchObject({ outcome: "ok", detail: "rtt 1.5 ms, loss 0 %, DSCP 46 marked" })
    expect(d.firewall).toEqual([])
  })

  it("a certificate that does not verify is a trust problem, not a port to open", () => {
    const f: Findings = {
      ...findings({ control: false, udp: false, tcp: false, tls: false, tunnel: false }),
      webTls: { ok: false, ms: 1, detail: "the certificate does not verify", untrusted: true },
      lookup: { ok: false, ms: 1, detail: "unable to verify the first certificate" },
    }
    const d = Doctor.diagnose(f)
    expect(d.verdict.path).toBe("none")
    expect(d.verdict.why).toContain("--ca")
    expect(d.firewall).toEqual([])
    expect(Doctor.format(d)).not.toContain("Nothing to open")
  })

  it("prints a table, the path and the advice", () => {
    const text = Doctor.format(Doctor.diagnose(findings({ control: true, udp: false, tcp: true, tls: true, tunnel: true })))
    expect(text).toMatch(/^step +target +result +time +detail$/m)
    expect(text).toMatch(/^media UDP +mmr-1 10\.0\.0\.1:40000 +failed +udp did not connect$/m)
    expect(text).toContain("A join would go direct, media over TCP: eu-west's controllers answered and TCP media to mmr-1 works (UDP did not connect).")
    expect(text).toContain("For a better path, open:\n  UDP 10.0.0.1:40000 (media; the best path)")
  })
})
