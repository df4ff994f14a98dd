// @ts-check
/**
 * The dashboard's meetings: who is in each (name, the path their join took,
 * the transport of each media kind), its topic and age; the placements
 * nobody is in, apart; and one participant's live stats, a click away —
 * rates from the difference between two polls.
 */

/** @typedef {import("./types").OpsState} OpsState */
/** @typedef {import("./types").OpsMeeting} OpsMeeting */
/** @typedef {import("./types").OpsParticipant} OpsParticipant */
/** @typedef {import("./types").ConnectionView} ConnectionView */

/** @param {string} tag @param {Record<string, string>} [attrs] @param {Array<Node | string>} [children] */
export const el = (tag, attrs = {}, children = []) => {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  node.append(...children)
  return node
}

/** "1 meeting", "2 meetings". @param {number} n @param {string} one */
export const count = (n, one) => `${n} ${n === 1 ? one : `${one}s`}`

/** "12 s", "3 min", "2 h 5 min". @param {number} ms */
export const age = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const min = Math.floor(s / 60)
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`
}

const kinds = /** @type {const} */ (["audio", "video", "content"])

/** The participant whose stats are open ("meeting/participant"), and the last poll's counters. */
const view = /** @type {{ open: string | undefined, previous: Map<string, { at: number, c: ConnectionView }> }} */ ({
  open: undefined,
  previous: new Map(),
})

/** @param {number} fraction */
const percent = (fraction) => `${(fraction * 100).toFixed(fraction > 0 && fraction < 0.01 ? 1 : 0)} %`

/**
 * @param {OpsState} state
 * @param {{ meetings: HTMLElement, idle: HTMLElement, details: HTMLElement }} into
 */
export const drawMeetings = (state, into) => {
  into.meetings.replaceChildren(
    ...(state.meetings.length === 0
      ? [el("p", { class: "empty" }, ["nobody is in a meeting"])]
      : state.meetings.map((m) => meetingCard(m, state.at))),
  )
  into.idle.replaceChildren(
    ...(state.idle.length === 0
      ? [el("li", {}, ["none"])]
      : state.idle.map((p) => el("li", { "data-idle": p.meeting }, [`${p.meeting} on ${p.mmr} (${p.zone}), placed ${age(state.at - p.at)} ago — nobody in it`]))),
  )
  drawDetails(state, into.details)
}

/** @param {OpsMeeting} m @param {number} now */
const meetingCard = (m, now) =>
  el("article", { class: "meeting", "data-meeting": m.id }, [
    el("h3", {}, [m.id, m.topic ? ` — ${m.topic}` : ""]),
    el("div", { class: "meta" }, [
      `${m.zone} on ${m.mmr}`,
      m.createdAt !== undefined ? `, created ${age(now - m.createdAt)} ago` : "",
      m.answered ? `, ${count(m.participants.length, "participant")}` : "",
    ]),
    m.answered
      ? el("table", { class: "participants" }, [
          el("thead", {}, [el("tr", {}, ["name", "path", ...kinds, "in for"].map((h) => el("th", {}, [h])))]),
          el("tbody", {}, m.participants.map((p) => participantRow(m, p, now))),
        ])
      : el("p", { class: "bad" }, [`${m.mmr} did not answer: who is in it is not known`]),
  ])

/** @param {OpsMeeting} m @param {OpsParticipant} p @param {number} now */
const participantRow = (m, p, now) => {
  const key = `${m.id}/${p.id}`
  const name = el("button", { type: "button", class: "link", title: "live stats" }, [p.name])
  name.addEventListener("click", () => {
    view.open = view.open === key ? undefined : key
    document.dispatchEvent(new Event("ops:redraw"))
  })
  const transport = (/** @type {string} */ kind) => p.media.find((c) => c.kind === kind)?.transport ?? "—"
  return el("tr", { "data-participant": p.id, ...(view.open === key ? { class: "open" } : {}) }, [
    el("td", {}, [name]),
    el("td", { "data-path": p.path ?? "" }, [p.path ?? "not reported"]),
    ...kinds.map((k) => el("td", { "data-kind": k }, [transport(k)])),
    el("td", {}, [age(now - p.joinedAt)]),
  ])
}

/** @param {OpsState} state @param {HTMLElement} details */
const drawDetails = (state, details) => {
  const [meetingId, participantId] = (view.open ?? "/").split("/")
  const meeting = state.meetings.find((m) => m.id === meetingId)
  const p = meeting?.participants.find((x) => x.id === participantId)
  if (meeting === undefined || p === undefined) {
    // Gone (left, or its meeting moved): nothing to show.
    view.open = undefined
    details.hidden = true
    return
  }
  const rows = p.media.map((c) => {
    const key = `${meeting.id}/${p.id}/${c.kind}`
    const before = view.previous.get(key)
    view.previous.set(key, { at: state.at, c })
    const seconds = before === undefined ? 0 : (state.at - before.at) / 1000
    const rate = (/** @type {number} */ now, /** @type {number} */ then) => (seconds > 0 ? Math.max(0, now - then) / seconds : undefined)
    const pps = (/** @type {number | undefined} */ r) => (r === undefined ? "…" : `${Math.round(r)}`)
    const kbps = (/** @type {number | undefined} */ r) => (r === undefined ? "…" : `${Math.round((r * 8) / 1000)}`)
    return el("tr", { "data-kind": c.kind }, [
      c.kind,
      c.transport,
      pps(rate(c.packetsIn, before?.c.packetsIn ?? 0)),
      kbps(rate(c.bytesIn, before?.c.bytesIn ?? 0)),
      pps(rate(c.packetsOut, before?.c.packetsOut ?? 0)),
      kbps(rate(c.bytesOut, before?.c.bytesOut ?? 0)),
      percent(c.lossIn),
      c.lossOut === undefined ? "—" : percent(c.lossOut),
      `${c.jitterMs.toFixed(1)}`,
      c.rttMs === undefined ? "—" : `${c.rttMs.toFixed(1)}`,
      String(c.drops),
    ].map((v) => el("td", {}, [v])))
  })
  details.hidden = false
  details.dataset["participant"] = p.id
  details.replaceChildren(
    el("h3", {}, [`${p.name} in ${meeting.id}`]),
    el("div", { class: "meta" }, [`participant ${p.id}, ${p.path ?? "path not reported"}, on ${meeting.mmr}, in for ${age(state.at - p.joinedAt)}`]),
    p.media.length === 0
      ? el("p", {}, ["no media connection now"])
      : el("table", {}, [
          el("thead", {}, [el("tr", {}, ["kind", "transport", "pkt/s in", "kbit/s in", "pkt/s out", "kbit/s out", "loss in", "loss out", "jitter ms", "rtt ms", "drops"].map((h) => el("th", {}, [h])))]),
          el("tbody", {}, rows),
        ]),
  )
}
