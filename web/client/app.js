// @ts-check
/**
 * The meetzone web client: the last resort of the connection process, for
 * people whose network lets nothing but HTTPS through — or who have nothing
 * but a browser. Served by the web lookup at /j/:meetingId.
 *
 *   1. lookup     GET /api/meetings/:id/join-info (same origin)
 *   2. tunnel     ping every tunnel the lookup listed; the first to answer carries the session
 *   3. hello      the join token, checked by the tunnel
 *   4. placement  Assign to the zones in the lookup's order, then Join on the MMR that hosts the meeting
 *   5. media      a channel per kind to the MMR's media port, bound with a STUN request carrying
 *                 the media token; Opus and VP8 in RTP out, everyone else's in
 *   6. moves      when the MMR says it is leaving, stops answering (gone) or answers nothing (frozen),
 *                 Assign again naming it, Join the new MMR, and move every channel there
 *
 * The page's state is on `window.meetzone` (tests read it).
 */
import { RemoteSource, sendAudio, sendVideo } from "./media.js"
import { parseRtp } from "./rtp.js"
import { isRtcp, KindRtcp } from "./rtcp.js"
import { keyRing } from "./srtp.js"
import * as E2e from "./e2e.js"
import * as Stun from "./stun.js"
import { RequestFailed, TunnelSession } from "./tunnel.js"

/** @typedef {"audio" | "video"} Kind */
const KINDS = /** @type {const} */ (["audio", "video"])
const TUNNEL_TIMEOUT_MS = 5_500
const BIND_TIMEOUT_MS = 5_000
const LIVENESS_INTERVAL_MS = 250
const LIVENESS_TIMEOUT_MS = 500

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id))
const leaveButton = () => /** @type {HTMLButtonElement} */ ($("leave"))
const meetingId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] ?? "")

const state = {
  /** @type {"idle" | "joining" | "joined" | "left" | "failed"} */
  phase: "idle",
  meeting: meetingId,
  topic: "",
  participant: "",
  tunnel: "",
  zone: "",
  mmr: "",
  /** @type {string | undefined} */
  error: undefined,
  /** @type {Array<{ id: string, name: string, ssrcs?: { audio?: number, video?: number, content?: number } }>} */
  roster: [],
  /** @type {Record<Kind, import("./media.js").SendCounters & { transport: string }>} */
  sent: {
    audio: { packets: 0, bytes: 0, frames: 0, dropped: 0, errors: 0, transport: "" },
    video: { packets: 0, bytes: 0, frames: 0, dropped: 0, errors: 0, transport: "" },
  },
  /** @type {Map<number, RemoteSource>} */
  sources: new Map(),
  /** @type {Array<{ at: number, step: string, detail: string }>} */
  log: [],
  /** Packets that were neither RTP nor STUN. */
  malformed: 0,
  /** The meeting's media keys (SRTP AEAD AES-256-GCM), when its media is encrypted. */
  /** @type {ReturnType<typeof keyRing> | undefined} */
  keys: undefined,
  /** @type {Record<Kind, KindRtcp> | undefined} */
  rtcp: undefined,
  /** Moves to another MMR (it left, died or froze), in order. */
  /** @type {Array<{ from: string, to?: string, reason: string, ms: number, outcome: "ok" | "failed", detail?: string }>} */
  moves: [],
}

/** A plain snapshot, for tests and for the stats table. */
const summary = () => ({
  phase: state.phase,
  meeting: state.meeting,
  participant: state.participant,
  tunnel: state.tunnel,
  zone: state.zone,
  mmr: state.mmr,
  error: state.error,
  roster: state.roster.map((p) => ({ id: p.id, name: p.name })),
  sent: state.sent,
  received: [...state.sources.values()].map((s) => ({
    ssrc: s.ssrc,
    kind: s.kind,
    from: senderOf(s.ssrc)?.name ?? `ssrc:${s.ssrc}`,
    packets: s.stats.packets,
    bytes: s.stats.bytes,
    loss: Math.round(s.stats.loss * 1000) / 1000,
    jitterMs: Math.round(s.stats.jitterMs * 100) / 100,
    decoded: s.decoded,
    decodeErrors: s.decodeErrors,
    foreign: s.foreign,
    framesDropped: s.assembler.framesDropped,
  })),
  malformed: state.malformed,
  encryption:
    state.keys === undefined
      ? undefined
      : {
          sendingEpoch: state.keys.sendingEpoch(),
          epochs: state.keys.epochs(),
          counters: state.keys.counters,
          ...(state.keys.endToEnd !== undefined
            ? { endToEnd: { securityCode: state.keys.endToEnd.securityCode(), leader: state.keys.endToEnd.leader(), ...state.keys.endToEnd.counters } }
            : {}),
        },
  moves: state.moves,
  rtcp: state.rtcp === undefined ? undefined : { audio: state.rtcp.audio.report(), video: state.rtcp.video.report() },
  log: state.log,
})
Object.assign(window, { meetzone: { state, summary } })

const t0 = performance.now()
/** @param {string} step @param {string} detail */
const log = (step, detail) => {
  state.log.push({ at: Math.round(performance.now() - t0), step, detail })
  const line = document.createElement("li")
  line.textContent = `${Math.round(performance.now() - t0)} ms  ${step}: ${detail}`
  $("log").append(line)
}

/** Everyone seen in the roster, by SSRC: what arrived from someone who has left still carries their name. */
const senders = new Map()

/** @param {typeof state.roster} roster */
const setRoster = (roster) => {
  state.roster = roster
  for (const p of roster) for (const ssrc of Object.values(p.ssrcs ?? {})) senders.set(ssrc, p)
}

/** @param {number} ssrc */
const senderOf = (ssrc) => senders.get(ssrc)

const setStatus = (/** @type {string} */ text) => void ($("status").textContent = text)

/** @param {string} passcode */
const lookup = async (/** @type {string} */ name, passcode) => {
  const response = await fetch(`/api/meetings/${encodeURIComponent(meetingId)}/join-info?name=${encodeURIComponent(name)}`, {
    headers: passcode !== "" ? { "x-meeting-passcode": passcode } : {},
  })
  const body = await response.json()
  if (!response.ok) throw new Error(body?.error?.message ?? `lookup failed with ${response.status}`)
  return body
}

/**
 * Binds a media channel: STUN Binding Requests (retransmitted 100 ms, 200 ms, … up to 1 s apart)
 * carrying the media token, until the MMR answers.
 *
 * @param {(p: Uint8Array) => boolean} send
 * @param {string} token
 * @param {{ stun?: (m: { type: number, transactionId: Uint8Array, error?: string }) => void }} hooks
 */
const bind = (send, token, hooks) =>
  new Promise((resolve, reject) => {
    const tid = Stun.transactionId()
    const request = Stun.bindingRequest(tid, token)
    let wait = 100
    /** @type {number} */
    let timer
    const finish = (/** @type {Error | undefined} */ e) => {
      clearTimeout(timer)
      clearTimeout(deadline)
      hooks.stun = undefined
      e === undefined ? resolve(undefined) : reject(e)
    }
    const deadline = setTimeout(() => finish(new Error(`no answer to the binding request in ${BIND_TIMEOUT_MS} ms`)), BIND_TIMEOUT_MS)
    hooks.stun = (m) => {
      if (!Stun.sameTransaction(m.transactionId, tid)) return
      if (m.type === Stun.BINDING_SUCCESS) finish(undefined)
      else if (m.type === Stun.BINDING_ERROR) finish(new Error(`refused: ${m.error ?? "binding error"}`))
    }
    const again = () => {
      send(request)
      timer = setTimeout(again, wait)
      wait = Math.min(wait * 2, 1000)
    }
    again()
  })

/** @type {Array<() => void>} */
const stops = []
/** @type {TunnelSession | undefined} */
let session
/** @type {{ subject: string, token: string, session: string } | undefined} */
let leaveWith

const canvasFor = (/** @type {number} */ ssrc) => () => {
  const id = `tile-${ssrc}`
  let canvas = /** @type {HTMLCanvasElement | null} */ (document.getElementById(id))
  if (canvas === null) {
    const figure = document.createElement("figure")
    canvas = document.createElement("canvas")
    canvas.id = id
    const caption = document.createElement("figcaption")
    caption.dataset.ssrc = String(ssrc)
    figure.append(canvas, caption)
    $("tiles").append(figure)
  }
  return canvas
}

/** @param {string} name @param {string} passcode */
const join = async (name, passcode) => {
  state.phase = "joining"
  setStatus("joining…")
  joinReport.startedAt = performance.now()
  joinReport.phases = []
  const info = await lookup(name, passcode)
  joinReport.token = info.joinToken
  joinReport.participant = info.participant.id
  joinReport.mark("lookup")
  // End-to-end: no key from the web tier; this page's key pair (its public half goes with the Join) and the leader's keys.
  const endToEnd = info.media?.endToEnd === true
  const keys = info.media === undefined ? undefined : keyRing(meetingId, info.participant.id, endToEnd ? undefined : info.media)
  const identity = endToEnd
    ? await E2e.newIdentity().catch(() => {
        throw new Error("this meeting is end-to-end encrypted, and this browser has no X25519 in WebCrypto to take part")
      })
    : undefined
  state.keys = keys
  state.topic = info.meeting.topic
  state.participant = info.participant.id
  $("meeting").textContent = `${info.meeting.topic || "meeting"} · ${info.meeting.id}`
  log("lookup", `participant ${info.participant.id}; ${info.zones.length} zone(s), ${info.tunnels.length} tunnel(s)`)

  session = await TunnelSession.connectFirst(
    info.tunnels.map((/** @type {{ url: string }} */ t) => t.url),
    TUNNEL_TIMEOUT_MS,
    (url, outcome, ms) => log("tunnel", `${url} ${outcome} after ${Math.round(ms)} ms`),
  )
  const tunnel = session
  state.tunnel = tunnel.tunnel
  tunnel.onClose = () => {
    if (state.phase === "joined") fail(new Error("the tunnel closed"))
  }
  log("tunnel", `using ${tunnel.tunnel} (${Math.round(tunnel.rttMs)} ms)`)
  await tunnel.hello(info.joinToken)

  const ssrcs = { audio: crypto.getRandomValues(new Uint32Array(1))[0], video: crypto.getRandomValues(new Uint32Array(1))[0] }
  // RTCP per kind (rtcp.js): what the MMR says of our streams, and our reports on what we receive.
  const rtcp = { audio: new KindRtcp(ssrcs.audio, 48_000, info.participant.id), video: new KindRtcp(ssrcs.video, 90_000, info.participant.id) }
  state.rtcp = rtcp
  // This page's session secret: only it can re-join or leave as this participant (a copied join token cannot).
  const sessionSecret = Array.from(crypto.getRandomValues(new Uint8Array(18)), (b) => b.toString(16).padStart(2, "0")).join("")

  /**
   * Assign in `zones` (in order), then Join the MMR that hosts the meeting. `suspect`: an MMR this
   * page finds gone or leaving — the controllers check it, and a placement still naming it is no answer.
   *
   * @param {ReadonlyArray<{ id: string, assignSubject: string }>} zones
   * @param {string} [suspect]
   */
  const placeAndJoin = async (zones, suspect) => {
    let problem = "no zone could place the meeting"
    for (const zone of zones) {
      /** @type {any} */
      let placement
      try {
        placement = await tunnel.request(
          zone.assignSubject,
          { _tag: "Assign", meeting: meetingId, token: info.joinToken, ...(suspect !== undefined ? { suspect, evidence: "silent" } : {}) },
          3_000,
        )
      } catch (e) {
        problem = `${zone.id}: ${e instanceof Error ? e.message : e}`
        log("placement", problem)
        continue
      }
      if (placement.mmr === suspect) {
        problem = `${zone.id} still places the meeting on ${suspect}`
        continue
      }
      log("placement", `${placement.mmr} in ${zone.id}`)
      const joined = await tunnel.request(placement.subject, { _tag: "Join", token: info.joinToken, session: sessionSecret, ssrcs, ...(identity !== undefined ? { keyShare: identity.keyShare } : {}) }, 5_000)
      return { placement, joined }
    }
    throw new Error(problem)
  }

  joinReport.mark("tunnel")
  let current = await placeAndJoin(info.zones)
  joinReport.mark("mmr-selection")
  joinReport.zone = current.joined.zone
  joinReport.mmr = current.joined.mmr
  leaveWith = { subject: current.placement.subject, token: info.joinToken, session: sessionSecret }
  state.zone = current.joined.zone
  state.mmr = current.joined.mmr
  setRoster(current.joined.roster)
  log("join", `joined ${current.joined.mmr} in ${current.joined.zone}`)
  if (current.joined.media === undefined || current.joined.mediaTokens === undefined) throw new Error(`${current.joined.mmr} has no media plane`)

  /** @type {MediaStream | undefined} */
  let stream
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240, frameRate: 15 } })
    const self = /** @type {HTMLVideoElement} */ ($("self"))
    self.srcObject = stream
  } catch (e) {
    log("devices", `receiving only: ${e instanceof Error ? e.message : e}`)
  }
  const audioContext = new AudioContext({ sampleRate: 48_000 })
  void audioContext.resume()

  /** Each kind's STUN answers go to whoever waits for them (a binding in progress). */
  /** @type {Record<Kind, { stun?: (m: { type: number, transactionId: Uint8Array, error?: string }) => void }>} */
  const hooks = { audio: {}, video: {} }
  /** What arrives on a kind's channel, whichever MMR it comes from: senders are known by SSRC. */
  const onPacketOf = (/** @type {Kind} */ kind) => (/** @type {Uint8Array} */ packet) => {
    if (isRtcp(packet)) return void rtcp[kind].onPacket(packet)
    const stun = Stun.parse(packet)
    if (stun !== undefined) return hooks[kind].stun?.(stun)
    if (keys === undefined) return deliver(kind, packet)
    // Only SRTP that authenticates under an epoch this page holds goes on; the rest is counted by why.
    void keys.unprotect(kind, packet).then((plain) => plain !== undefined && deliver(kind, plain))
  }
  /** @param {Kind} kind @param {Uint8Array} packet */
  const deliver = (kind, packet) => {
    const rtp = parseRtp(packet)
    if (rtp === undefined) return void state.malformed++
    let source = state.sources.get(rtp.ssrc)
    if (source === undefined) {
      source = new RemoteSource(kind, rtp.ssrc, kind === "audio" ? { audio: audioContext } : { canvas: canvasFor(rtp.ssrc) })
      state.sources.set(rtp.ssrc, source)
    }
    source.receive(rtp, packet.length)
  }
  /** @type {Partial<Record<Kind, { send: (p: Uint8Array) => boolean, close: () => void }>>} */
  let channels = {}
  /** Opens and binds every kind's channel to `joined`'s MMR; the caller closes the old ones. @param {any} joined */
  const connectMedia = async (joined) => {
    /** @type {Partial<Record<Kind, { send: (p: Uint8Array) => boolean, close: () => void }>>} */
    const opened = {}
    try {
      for (const kind of KINDS) {
        const channel = await tunnel.openMedia(kind, joined.media.host, joined.media.port, onPacketOf(kind))
        opened[kind] = channel
        await bind(channel.send, joined.mediaTokens[kind].udp, hooks[kind])
        state.sent[kind].transport = "tunnel"
        log("media", `${kind} bound to ${joined.mmr} through ${tunnel.tunnel}`)
      }
    } catch (e) {
      for (const c of Object.values(opened)) c.close()
      throw e
    }
    return opened
  }
  channels = await connectMedia(current.joined)
  joinReport.mark("media")
  // Senders and keepalives go through whichever channel is current: a move swaps them underneath.
  const sendOn = (/** @type {Kind} */ kind) => (/** @type {Uint8Array} */ p) => channels[kind]?.send(p) ?? false
  /** Media goes out as SRTP under the current epoch (in order); STUN stays clear. */
  const sendMediaOn = (/** @type {Kind} */ kind) =>
    keys === undefined
      ? (/** @type {Uint8Array} */ p) => {
          rtcp[kind].noteSent(p)
          return sendOn(kind)(p)
        }
      : (/** @type {Uint8Array} */ p) => {
          rtcp[kind].noteSent(p)
          void keys.protect(kind, p).then((out) => out !== undefined && sendOn(kind)(out))
          return channels[kind] !== undefined
        }
  // End-to-end: the meeting's keys come from its leader (this page, or another participant), through the MMR.
  const agreement =
    identity === undefined || keys === undefined
      ? undefined
      : E2e.agreement({
          meeting: meetingId,
          self: info.participant.id,
          identity,
          ring: keys,
          send: (signal) => tunnel.request(current.placement.subject, { _tag: "Signal", meeting: meetingId, token: info.joinToken, session: sessionSecret, signal }, 2_000),
        })
  if (agreement !== undefined) {
    stops.push(agreement.stop)
    void agreement.onRoster(current.joined.roster)
  }
  if (keys !== undefined && !endToEnd) {
    // A packet under an epoch this page lacks (an event missed): ask the web tier again, at most once a second.
    let askedAt = -Infinity
    const refresh = setInterval(() => {
      if (keys.wanted() === undefined || performance.now() - askedAt < 1_000) return
      askedAt = performance.now()
      void fetch(`/api/meetings/${encodeURIComponent(meetingId)}/media-keys`, { headers: { authorization: `Bearer ${info.joinToken}` } })
        .then(async (r) => (r.ok ? keys.add(await r.json()) : log("keys", `media keys refused: ${r.status}`)))
        .catch((e) => log("keys", `media keys not fetched: ${e instanceof Error ? e.message : e}`))
    }, 250)
    stops.push(() => clearInterval(refresh))
  }
  for (const kind of KINDS) {
    // Keepalives, so a quiet channel is not taken for a dead one (the MMR closes silent ones).
    const keepalive = setInterval(() => sendOn(kind)(Stun.bindingIndication()), 1_000)
    stops.push(() => clearInterval(keepalive))
    const track = kind === "audio" ? stream?.getAudioTracks()[0] : stream?.getVideoTracks()[0]
    if (track !== undefined) {
      const clone = track.clone()
      stops.push((kind === "audio" ? sendAudio : sendVideo)(clone, ssrcs[kind], sendMediaOn(kind), state.sent[kind]))
      stops.push(() => clone.stop())
    }
  }
  stops.push(() => {
    for (const c of Object.values(channels)) c.close()
  })
  stops.push(() => stream?.getTracks().forEach((t) => t.stop()))
  stops.push(() => void audioContext.close())

  // --- following the meeting when its MMR leaves, dies or freezes ---------------------------

  let moving = false
  /** @param {"leaving" | "crash" | "frozen"} reason */
  const move = async (reason) => {
    if (moving || state.phase !== "joined") return
    moving = true
    const from = current.placement.mmr
    const started = performance.now()
    log("move", `${from} ${reason === "leaving" ? "is leaving" : reason === "crash" ? "is gone" : "does not answer"}: moving`)
    const zones = [...info.zones.filter((/** @type {{ id: string }} */ z) => z.id === current.placement.zone), ...info.zones.filter((/** @type {{ id: string }} */ z) => z.id !== current.placement.zone)]
    try {
      /** @type {any} */
      let next
      // The controllers may not have heard yet that the MMR is leaving: ask again shortly (bounded).
      for (let attempt = 0; next === undefined; attempt++) {
        try {
          next = await placeAndJoin(zones, from)
        } catch (e) {
          if (attempt >= 15) throw e
          await new Promise((r) => setTimeout(r, 200))
        }
      }
      const fresh = await connectMedia(next.joined)
      const old = channels
      channels = fresh
      for (const c of Object.values(old)) c.close()
      const oldSubject = current.placement.subject
      current = next
      leaveWith = { subject: current.placement.subject, token: info.joinToken, session: sessionSecret }
      // In the background: the old MMR may be dead or frozen, and the move is done.
      void tunnel.request(oldSubject, { _tag: "Leave", meeting: meetingId, participant: state.participant, token: info.joinToken, session: sessionSecret }, 1_000).catch(() => {})
      state.zone = next.joined.zone
      state.mmr = next.joined.mmr
      setRoster(next.joined.roster)
      const ms = Math.round(performance.now() - started)
      state.moves.push({ from, to: next.joined.mmr, reason, ms, outcome: "ok" })
      log("move", `moved from ${from} to ${next.joined.mmr} in ${ms} ms`)
      setStatus(`joined via tunnel ${tunnel.tunnel} · ${next.joined.mmr} in ${next.joined.zone}`)
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e)
      state.moves.push({ from, reason, ms: Math.round(performance.now() - started), outcome: "failed", detail })
      log("move", `could not move from ${from}: ${detail}`)
    } finally {
      moving = false
    }
  }

  tunnel.onEvent((_subject, body) => {
    const event = /** @type {{ type?: string, roster?: typeof state.roster, meeting?: string, mmr?: string, leaving?: boolean }} */ (body)
    if (event.type === "media-keys") return void keys?.onEvent(/** @type {import("./srtp.js").MediaKeyEvent} */ (/** @type {unknown} */ (event)))
    if (event.type === "e2e") return void agreement?.onEvent(/** @type {any} */ (event))
    if (event.meeting !== meetingId || event.mmr !== current.placement.mmr) return
    if (event.leaving === true) void move("leaving")
    else if (Array.isArray(event.roster)) {
      setRoster(event.roster)
      void agreement?.onRoster(event.roster)
    }
  })

  // Is the MMR still there? A cheap question every quarter second: nobody listening means it is gone,
  // two unanswered in a row that it froze or was cut off.
  let asking = false
  let misses = 0
  const liveness = setInterval(() => {
    if (asking || moving || state.phase !== "joined") return
    asking = true
    tunnel
      .request(current.placement.subject, { _tag: "MediaStats", meeting: meetingId, participant: state.participant, token: info.joinToken }, LIVENESS_TIMEOUT_MS)
      .then(() => void (misses = 0))
      .catch((/** @type {unknown} */ e) => {
        const tag = e instanceof RequestFailed ? e.tag : ""
        if (moving) return
        if (tag === "NoResponders") void move("crash")
        else if (tag === "RequestTimeout" && ++misses >= 2) {
          misses = 0
          void move("frozen")
        }
      })
      .finally(() => void (asking = false))
  }, LIVENESS_INTERVAL_MS)
  stops.push(() => clearInterval(liveness))

  // RTCP reports once a second (RFC 3550's interval, randomised), RTCP in the clear as from every client.
  const reports = setInterval(() => {
    for (const kind of KINDS) {
      const sources = /** @type {Array<[number, import("./rtp.js").SourceStats]>} */ ([...state.sources.values()].filter((s) => s.kind === kind).map((s) => [s.ssrc, s.stats]))
      sendOn(kind)(rtcp[kind].compound(sources))
    }
  }, 750 + Math.random() * 500)
  stops.push(() => clearInterval(reports))

  // The roster also comes with every change; asking now and then covers a missed event.
  const refresh = setInterval(() => {
    if (moving) return
    tunnel
      .request(current.placement.subject, { _tag: "Roster", meeting: meetingId, token: info.joinToken }, 3_000)
      .then((roster) => setRoster(roster))
      .catch(() => {})
  }, 5_000)
  stops.push(() => clearInterval(refresh))

  state.phase = "joined"
  joinReport.send("ok")
  setStatus(`joined via tunnel ${tunnel.tunnel} · ${current.joined.mmr} in ${current.joined.zone}`)
  leaveButton().disabled = false
}

/**
 * How the join went, told to the web lookup as headless clients tell it (POST /api/joins on the join
 * token's authority), so that operators see browser joins too. Best effort, once.
 */
const joinReport = {
  startedAt: 0,
  /** @type {string | undefined} */ token: undefined,
  /** @type {string | undefined} */ participant: undefined,
  /** @type {string | undefined} */ zone: undefined,
  /** @type {string | undefined} */ mmr: undefined,
  /** @type {Array<{ name: string, ms: number, outcome: string }>} */ phases: [],
  last: 0,
  sent: false,
  /** @param {string} name */
  mark(name) {
    const now = performance.now()
    this.phases.push({ name, ms: Math.round(now - Math.max(this.startedAt, this.last)), outcome: "ok" })
    this.last = now
  },
  /** The phase after the last one that finished failed; the outcome says where. */
  failed() {
    const order = ["lookup", "tunnel", "mmr-selection", "media"]
    const next = order[this.phases.length] ?? "media"
    this.phases.push({ name: next, ms: Math.round(performance.now() - Math.max(this.startedAt, this.last)), outcome: "failed" })
    this.send(next === "media" ? "MediaUnreachable" : "NoMmrAvailable")
  },
  /** @param {string} outcome */
  send(outcome) {
    if (this.sent || this.token === undefined) return
    this.sent = true
    const summary = {
      meeting: meetingId,
      participant: this.participant,
      path: "tunnel",
      outcome,
      ...(this.zone !== undefined ? { zone: this.zone } : {}),
      ...(this.mmr !== undefined ? { mmr: this.mmr } : {}),
      totalMs: Math.round(performance.now() - this.startedAt),
      phases: this.phases,
    }
    void fetch("/api/joins", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${this.token}` }, body: JSON.stringify(summary), keepalive: true }).catch(() => {})
  },
}

/** @param {unknown} e */
const fail = (e) => {
  if (state.phase === "joining") joinReport.failed()
  state.phase = "failed"
  state.error = e instanceof Error ? e.message : String(e)
  log("failed", state.error)
  setStatus(`could not join: ${state.error}`)
  leave(false)
}

const leave = (/** @type {boolean} */ asked) => {
  for (const stop of stops.splice(0)) stop()
  for (const s of state.sources.values()) s.close()
  if (asked && session !== undefined && leaveWith !== undefined) {
    void session
      .request(leaveWith.subject, { _tag: "Leave", meeting: meetingId, participant: state.participant, token: leaveWith.token, session: leaveWith.session }, 2_000)
      .catch(() => {})
      .finally(() => session?.close())
  } else session?.close()
  if (asked) {
    state.phase = "left"
    setStatus("left the meeting")
  }
  leaveButton().disabled = true
}

const render = () => {
  const rows = summary().received.map(
    (r) =>
      `<tr><td>${escape(r.from)}</td><td>${r.kind}</td><td>${r.packets}</td><td>${(r.bytes / 1024).toFixed(0)} KiB</td>` +
      `<td>${(r.loss * 100).toFixed(1)} %</td><td>${r.jitterMs.toFixed(1)} ms</td><td>${r.decoded}</td><td>${r.decodeErrors + r.foreign}</td></tr>`,
  )
  $("stats").innerHTML = rows.join("")
  $("roster").innerHTML = state.roster
    .map((p) => `<li${p.id === state.participant ? ' class="me"' : ""}>${escape(p.name)}</li>`)
    .join("")
  // End-to-end: the code every participant compares aloud; different codes mean someone in the middle.
  const code = state.keys?.endToEnd?.securityCode()
  $("security-code").hidden = code === undefined
  $("security-code").textContent = code === undefined ? "" : `end-to-end encrypted · security code ${code}`
  $("sent").textContent = KINDS.map((k) => `${k}: ${state.sent[k].packets} packets, ${state.sent[k].frames} frames`).join(" · ")
  for (const caption of document.querySelectorAll("figcaption[data-ssrc]")) {
    const who = senderOf(Number(/** @type {HTMLElement} */ (caption).dataset.ssrc))
    caption.textContent = who?.name ?? "…"
  }
}
const escape = (/** @type {string} */ s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

$("join").addEventListener("submit", (e) => {
  e.preventDefault()
  if (state.phase === "joining" || state.phase === "joined") return
  const name = /** @type {HTMLInputElement} */ ($("name")).value.trim() || "guest"
  const passcode = /** @type {HTMLInputElement} */ ($("passcode")).value
  join(name, passcode).catch(fail)
})
$("leave").addEventListener("click", () => leave(true))
window.addEventListener("pagehide", () => leave(true))
$("meeting").textContent = meetingId
setInterval(render, 500)
