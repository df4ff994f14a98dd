// @ts-check
/**
 * The /doctor page: what this browser can reach of the connection process,
 * tried step by step, and the result as a picture.
 *
 *   web TLS     this page came over HTTPS: the browser trusts the web lookup's certificate
 *   lookup      a meeting made for the purpose, and its join-info
 *   tunnels     every tunnel's TLS WebSocket, pinged
 *   control     through the first tunnel that answered: hello, Assign (the zone's controllers), Join (the MMR)
 *   media echo  an audio channel to the MMR through the tunnel, bound with its media token; 20 STUN
 *               consent checks 50 ms apart, each answered by the MMR: round trip and loss
 *
 * The page leaves the meeting when done. `window.doctorResult` holds what it found.
 */
import * as Stun from "../client/stun.js"
import { TunnelSession } from "../client/tunnel.js"

/** @typedef {{ step: string, target: string, outcome: "ok" | "failed" | "skipped", ms?: number, detail: string }} Row */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))
const message = (/** @type {unknown} */ e) => (e instanceof Error ? e.message : String(e))
const round = (/** @type {number} */ ms) => (ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms))
const ECHO_CHECKS = 20
const ECHO_SPACING_MS = 50

/** @type {Array<Row>} */
const rows = []
/** @param {Row} row */
const add = (row) => {
  rows.push(row)
  const tr = document.createElement("tr")
  for (const [i, text] of [row.step, row.target, row.outcome, row.ms !== undefined ? `${round(row.ms)} ms` : "", row.detail].entries()) {
    const td = document.createElement("td")
    td.textContent = text
    if (i === 2) td.className = row.outcome
    tr.append(td)
  }
  $("rows").append(tr)
  return row
}

/** @param {string} url @param {RequestInit} [init] */
const fetchJson = async (url, init) => {
  const response = await fetch(url, init)
  const body = await response.json().catch(() => undefined)
  if (!response.ok) throw new Error(body?.error?.message ?? `${url} answered ${response.status}`)
  return body
}

/**
 * STUN requests on `send` until one is answered (success) or `timeoutMs` passes; resolves with the
 * round trip, or undefined when none came back. Answers reach `hook.on`.
 *
 * @param {(p: Uint8Array) => boolean} send
 * @param {Uint8Array} request
 * @param {Uint8Array} tid
 * @param {{ on?: (m: { type: number, transactionId: Uint8Array, error?: string }) => void }} hook
 * @param {number} timeoutMs
 * @param {boolean} retransmit
 * @returns {Promise<number | undefined>}
 */
const ask = (send, request, tid, hook, timeoutMs, retransmit) =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    /** @type {number | undefined} */
    let again
    const done = (/** @type {number | undefined} */ rtt, /** @type {Error | undefined} */ error) => {
      clearTimeout(deadline)
      clearTimeout(again)
      error === undefined ? resolve(rtt) : reject(error)
    }
    const deadline = setTimeout(() => done(undefined, undefined), timeoutMs)
    const previous = hook.on
    hook.on = (m) => {
      previous?.(m)
      if (!Stun.sameTransaction(m.transactionId, tid)) return
      if (m.type === Stun.BINDING_SUCCESS) done(performance.now() - started, undefined)
      else if (m.type === Stun.BINDING_ERROR) done(undefined, new Error(`refused: ${m.error ?? "binding error"}`))
    }
    const once = () => {
      send(request)
      if (retransmit) again = setTimeout(once, 200)
    }
    once()
  })

/** @type {{ ok: boolean, verdict: string, rows: Array<Row> } | undefined} */
let finished

const run = async () => {
  add({
    step: "web TLS",
    target: location.host,
    outcome: location.protocol === "https:" ? "ok" : "failed",
    detail: location.protocol === "https:" ? "this page came over HTTPS: the browser trusts the web lookup's certificate" : "this page did not come over HTTPS",
  })

  const lookedAt = performance.now()
  /** @type {any} */
  let info
  try {
    const meeting = await fetchJson("/api/meetings", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: "meetzone doctor (browser)" }) })
    info = await fetchJson(`/api/meetings/${encodeURIComponent(meeting.id)}/join-info?name=doctor`)
    add({ step: "lookup", target: location.origin, outcome: "ok", ms: performance.now() - lookedAt, detail: `meeting ${meeting.id} (made for this): ${info.zones.length} zones, ${info.tunnels.length} tunnels, this browser seen as ${info.client.address}` })
  } catch (e) {
    add({ step: "lookup", target: location.origin, outcome: "failed", ms: performance.now() - lookedAt, detail: message(e) })
    return
  }

  /** @type {Array<{ id: string, url: string, session?: TunnelSession, error?: string }>} */
  const tunnels = await Promise.all(
    info.tunnels.map(async (/** @type {{ id: string, url: string }} */ t) => {
      try {
        return { ...t, session: await TunnelSession.connectFirst([t.url], 3_000) }
      } catch (e) {
        return { ...t, error: message(e) }
      }
    }),
  )
  for (const t of tunnels)
    add(
      t.session !== undefined
        ? { step: "tunnel", target: `${t.id} ${t.url}`, outcome: "ok", ms: t.session.rttMs, detail: `TLS WebSocket open, answered a ping (${t.session.tunnel})` }
        : { step: "tunnel", target: `${t.id} ${t.url}`, outcome: "failed", detail: t.error ?? "no answer" },
    )
  const chosen = tunnels.find((t) => t.session !== undefined)
  for (const t of tunnels) if (t !== chosen) t.session?.close()
  if (chosen?.session === undefined) return
  const tunnel = chosen.session

  try {
    let at = performance.now()
    await tunnel.hello(info.joinToken)
    /** @type {any} */
    let placement
    let problem = "no zone placed the meeting"
    for (const zone of info.zones) {
      try {
        placement = await tunnel.request(zone.assignSubject, { _tag: "Assign", meeting: info.meeting.id, token: info.joinToken }, 3_000)
        add({ step: "placement", target: `${zone.id}/${placement.mmr}`, outcome: "ok", ms: performance.now() - at, detail: `the zone's controllers answered through ${tunnel.tunnel}` })
        break
      } catch (e) {
        problem = `${zone.id}: ${message(e)}`
      }
    }
    if (placement === undefined) {
      add({ step: "placement", target: "—", outcome: "failed", ms: performance.now() - at, detail: problem })
      return
    }
    at = performance.now()
    const random = () => crypto.getRandomValues(new Uint32Array(1))[0]
    const session = Array.from(crypto.getRandomValues(new Uint8Array(18)), (b) => b.toString(16).padStart(2, "0")).join("")
    const joined = await tunnel.request(placement.subject, { _tag: "Join", token: info.joinToken, session, ssrcs: { audio: random(), video: random() } }, 5_000)
    add({ step: "join", target: joined.mmr, outcome: "ok", ms: performance.now() - at, detail: joined.media !== undefined ? `media at ${joined.media.host}:${joined.media.port}` : "no media plane" })
    try {
      if (joined.media === undefined || joined.mediaTokens === undefined) throw new Error(`${joined.mmr} has no media plane`)
      /** @type {{ on?: (m: { type: number, transactionId: Uint8Array, error?: string }) => void }} */
      const hook = {}
      const channel = await tunnel.openMedia("audio", joined.media.host, joined.media.port, (packet) => {
        const m = Stun.parse(packet)
        if (m !== undefined) hook.on?.(m)
      })
      const tid = Stun.transactionId()
      const bound = await ask(channel.send, Stun.bindingRequest(tid, joined.mediaTokens.audio.udp), tid, hook, 5_000, true)
      if (bound === undefined) throw new Error("the MMR did not answer the media binding in 5 s")
      /** @type {Array<Promise<number | undefined>>} */
      const checks = []
      for (let i = 0; i < ECHO_CHECKS; i++) {
        const check = Stun.transactionId()
        checks.push(ask(channel.send, Stun.consentRequest(check), check, hook, 1_000, false))
        await new Promise((r) => setTimeout(r, ECHO_SPACING_MS))
      }
      const rtts = (await Promise.all(checks)).filter((r) => r !== undefined).sort((a, b) => a - b)
      const loss = 1 - rtts.length / ECHO_CHECKS
      add(
        rtts.length > 0
          ? { step: "media echo", target: `audio via ${tunnel.tunnel} to ${joined.mmr}`, outcome: "ok", ms: rtts[Math.floor(rtts.length / 2)], detail: `${rtts.length} of ${ECHO_CHECKS} checks answered: loss ${Math.round(loss * 100)} %, round trip ${round(rtts[0])}–${round(rtts[rtts.length - 1])} ms` }
          : { step: "media echo", target: `audio via ${tunnel.tunnel} to ${joined.mmr}`, outcome: "failed", detail: `none of ${ECHO_CHECKS} checks answered` },
      )
      channel.close()
    } finally {
      await tunnel.request(placement.subject, { _tag: "Leave", meeting: info.meeting.id, participant: info.participant.id, token: info.joinToken, session }, 2_000).catch(() => {})
    }
  } catch (e) {
    add({ step: rows.at(-1)?.step === "placement" ? "join" : "control", target: tunnel.tunnel, outcome: "failed", detail: message(e) })
  } finally {
    tunnel.close()
  }
}

// --- the picture -------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg"
const colour = { ok: "#2e7d32", failed: "#c62828", skipped: "#9e9e9e" }

/** @param {string} name @param {Record<string, string | number>} attributes @param {string} [text] */
const el = (name, attributes, text) => {
  const e = document.createElementNS(SVG, name)
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  $("picture").append(e)
  return e
}
/** @param {number} x @param {number} y @param {string} title @param {string} subtitle @param {keyof typeof colour} outcome */
const node = (x, y, title, subtitle, outcome) => {
  el("rect", { x: x - 75, y: y - 28, width: 150, height: 56, rx: 8, fill: "#fff", stroke: colour[outcome], "stroke-width": 3 })
  el("text", { x, y: y - 4, "text-anchor": "middle", "font-weight": 600 }, title)
  el("text", { x, y: y + 15, "text-anchor": "middle", class: "label" }, subtitle)
}
/** @param {number} x1 @param {number} y1 @param {number} x2 @param {number} y2 @param {Row | undefined} row */
const edge = (x1, y1, x2, y2, row) => {
  const outcome = row?.outcome ?? "skipped"
  el("line", { x1, y1, x2, y2, stroke: colour[outcome], "stroke-width": 4, "stroke-dasharray": outcome === "ok" ? "" : "8 6" })
  const label = row === undefined ? "not tried" : row.outcome === "ok" ? (row.ms !== undefined ? `${round(row.ms)} ms` : "ok") : row.outcome
  el("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 8, "text-anchor": "middle", class: "label" }, label)
}

const draw = () => {
  const find = (/** @type {string} */ step) => rows.find((r) => r.step === step)
  const tunnels = rows.filter((r) => r.step === "tunnel")
  const echo = find("media echo")
  const placement = find("placement")
  // Tunnels one under another, 70 apart from y 130; the browser and the MMR level with their middle.
  const tunnelY = (/** @type {number} */ i) => 130 + i * 70
  const mid = Math.max(150, (tunnelY(0) + tunnelY(Math.max(0, tunnels.length - 1))) / 2)
  $("picture").setAttribute("viewBox", `0 0 920 ${Math.max(300, tunnelY(tunnels.length - 1) + 50)}`)
  node(90, mid, "this browser", navigator.userAgent.includes("Chrome") ? "Chromium" : "browser", "ok")
  const lookup = find("lookup")
  edge(165, mid - 10, 265, 50, lookup)
  node(340, 50, "web lookup", location.host, lookup?.outcome ?? "skipped")
  tunnels.forEach((t, i) => {
    edge(165, mid + 10, 465, tunnelY(i), t)
    node(540, tunnelY(i), t.target.split(" ")[0], t.outcome === "ok" ? "HTTP tunnel" : "no answer", t.outcome)
  })
  const through = tunnels.findIndex((t) => t.outcome === "ok")
  const mmr = find("join")?.target ?? placement?.target.split("/")[1] ?? "MMR"
  if (through >= 0) edge(615, tunnelY(through), 745, mid, echo ?? find("join") ?? placement)
  node(820, mid, mmr, echo?.outcome === "ok" ? "media echo" : "media router", echo?.outcome ?? (placement?.outcome === "failed" ? "failed" : "skipped"))
}

const finish = () => {
  const echo = rows.find((r) => r.step === "media echo")
  const ok = echo?.outcome === "ok"
  const failure = rows.find((r) => r.outcome === "failed" && (r.step !== "tunnel" || !rows.some((t) => t.step === "tunnel" && t.outcome === "ok")))
  const verdict = ok
    ? `This browser can join: through ${echo.target.split(" via ")[1]}, round trip ${round(echo.ms ?? 0)} ms, ${echo.detail.split(": ")[1].split(",")[0]}.`
    : `This browser cannot join: ${failure !== undefined ? `${failure.step} — ${failure.detail}` : "no tunnel was listed"}.`
  $("verdict").textContent = verdict
  $("verdict").className = ok ? "ok" : "failed"
  $("status").textContent = ok ? "done: it works" : "done: something is in the way"
  draw()
  finished = { ok, verdict, rows }
  Object.assign(window, { doctorResult: finished })
  document.body.dataset.doctor = "done"
}

run()
  .catch((e) => add({ step: "doctor", target: "—", outcome: "failed", detail: message(e) }))
  .finally(finish)
