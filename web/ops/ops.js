// @ts-check
/**
 * The operators' dashboard: polls /ops/api/state once a second with the
 * operator token (from the URL fragment `#token=…`, which never reaches a
 * server log, or typed in) and draws the topology, the meetings
 * (meetings.js) and the latest joins.
 */

import { count, drawMeetings, el } from "./meetings.js"

/** @typedef {import("./types").OpsState} OpsState */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))

/** Exposed for the browser test and for curious operators. */
const ops = /** @type {{ state: OpsState | undefined, updates: number, error: string | undefined }} */ ({
  state: undefined,
  updates: 0,
  error: undefined,
})
Object.assign(window, { __ops: ops })

const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token")
if (fromFragment !== null) {
  sessionStorage.setItem("meetzone-ops-token", fromFragment)
  history.replaceState(null, "", location.pathname)
}

/** The CSP allows no inline style attributes; CSSOM is fine. @param {number} fraction */
const loadBar = (fraction) => {
  const bar = el("span")
  bar.style.width = `${Math.round(Math.min(1, fraction) * 100)}%`
  return bar
}

/** @param {OpsState} state */
const draw = (state) => {
  $("web").textContent = `web lookup ${state.web}`
  $("zones").replaceChildren(
    ...state.zones.map((zone) =>
      el("article", { class: "zone", "data-zone": zone.id }, [
        el("h2", {}, [`${zone.name} (${zone.id})`]),
        el("div", {}, [
          "controllers: ",
          ...(zone.controllers.length === 0
            ? ["none alive"]
            : zone.controllers.map((c) => el("span", { class: "controller", "data-controller": c.id }, [c.id]))),
        ]),
        el(
          "ul",
          { class: "plain" },
          zone.mmrs.map((m) =>
            el("li", { class: "mmr", "data-mmr": m.mmr }, [
              el("span", { class: "name" }, [m.mmr]),
              ` ${m.participants}/${count(m.capacity, "participant")}, ${count(m.meetings, "meeting")}, ${Math.round(m.packetsPerSecond)} pkt/s, cpu ${Math.round(m.cpu * 100)}%`,
              ...(m.leaving ? [el("span", { class: "badge" }, ["leaving"])] : m.draining ? [el("span", { class: "badge" }, ["draining"])] : []),
              el("div", { class: "bar", title: "load" }, [loadBar(m.participants / m.capacity)]),
              el("div", { class: "meetings" }, [m.hosting.length === 0 ? "no meetings placed" : `meetings placed here: ${m.hosting.join(", ")}`]),
            ]),
          ),
        ),
      ]),
    ),
  )
  $("tunnels").replaceChildren(
    ...(state.tunnels.length === 0
      ? [el("li", {}, ["none alive"])]
      : state.tunnels.map((t) => el("li", { "data-tunnel": t.id }, [`${t.id} ${t.url} — ${count(t.sessions, "session")}`]))),
  )
  drawMeetings(state, { meetings: $("meetings"), idle: $("idle"), details: $("details") })
  // Participants are reported by id; the ones in a meeting now have a name to show.
  const names = new Map(state.meetings.flatMap((m) => m.participants.map((p) => [`${m.id}/${p.id}`, p.name])))
  const body = /** @type {HTMLElement} */ ($("joins").querySelector("tbody"))
  body.replaceChildren(
    ...state.joins.map((j) =>
      el("tr", { "data-path": j.path ?? "" }, [
        el("td", {}, [new Date(j.at).toLocaleTimeString()]),
        el("td", {}, [j.meeting]),
        el("td", {}, [j.participant === undefined ? "" : (names.get(`${j.meeting}/${j.participant}`) ?? j.participant)]),
        el("td", {}, [j.path ?? ""]),
        el("td", { class: j.outcome === "ok" ? "ok" : "failed" }, [j.outcome]),
        el("td", {}, [j.zone ?? ""]),
        el("td", {}, [j.mmr ?? ""]),
        el("td", {}, [String(Math.round(j.totalMs))]),
      ]),
    ),
  )
}

const setStatus = (/** @type {string} */ text, /** @type {boolean} */ ok) => {
  $("status").textContent = text
  $("status").className = ok ? "ok" : "bad"
}

const poll = async () => {
  const token = sessionStorage.getItem("meetzone-ops-token")
  if (token === null) {
    $("login").hidden = false
    return
  }
  try {
    const response = await fetch("/ops/api/state", { headers: { authorization: `Bearer ${token}` } })
    if (response.status === 401) {
      sessionStorage.removeItem("meetzone-ops-token")
      $("login").hidden = false
      ops.error = "the operator token was refused"
      setStatus(ops.error, false)
      return
    }
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`)
    ops.state = /** @type {OpsState} */ (await response.json())
    ops.updates++
    ops.error = undefined
    $("login").hidden = true
    draw(ops.state)
    setStatus(`live — ${new Date(ops.state.at).toLocaleTimeString()}`, true)
  } catch (e) {
    ops.error = e instanceof Error ? e.message : String(e)
    setStatus(`cannot reach the web lookup: ${ops.error}`, false)
  }
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault()
  sessionStorage.setItem("meetzone-ops-token", /** @type {HTMLInputElement} */ ($("token")).value)
  void poll()
})

// Opening a participant's stats draws at once, from the state at hand.
document.addEventListener("ops:redraw", () => void (ops.state !== undefined && draw(ops.state)))

void poll()
setInterval(() => void poll(), 1000)
