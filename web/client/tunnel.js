// @ts-check
/**
 * The browser's side of the HTTP tunnel (src/protocol/tunnel.ts): one TLS
 * WebSocket carrying the session — control requests relayed to the meeting's
 * actors, roster events, and binary media channels (one per kind at a time).
 *
 * Requests carry the same JSON the actors read over NATS (a tagged request);
 * replies are the actors' envelopes, `{ok}`, `{fail}` or `{error}`.
 */

/** Each kind's first channel; a move opens the new channel (a fresh number) before it closes the old. */
export const channelOf = /** @type {const} */ ({ audio: 0, video: 1, content: 2 })
const MAX_CHANNEL = 255

/** A request that did not get a success: the tunnel's, the kernel's or the actor's failure. */
export class RequestFailed extends Error {
  /** @param {string} tag @param {string} detail */
  constructor(tag, detail) {
    super(`${tag}: ${detail}`)
    this.tag = tag
  }
}

/** @param {string} s */
const toBase64 = (s) => {
  const bytes = new TextEncoder().encode(s)
  let binary = ""
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary)
}
/** @param {string} b64 */
const fromBase64 = (b64) => new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)))

/** @param {unknown} failure */
const describe = (failure) => {
  if (typeof failure !== "object" || failure === null) return new RequestFailed("Failed", String(failure))
  const f = /** @type {Record<string, unknown>} */ (failure)
  const tag = typeof f._tag === "string" ? f._tag : "Failed"
  const detail = typeof f.message === "string" ? f.message : typeof f.detail === "string" ? f.detail : JSON.stringify(f)
  return new RequestFailed(tag, detail)
}

export class TunnelSession {
  /** @type {Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void, timer: number }>} */
  #pending = new Map()
  /** @type {Map<number, (packet: Uint8Array) => void>} */
  #media = new Map()
  /** @type {Map<number, (m: any) => void>} */
  #opening = new Map()
  /** @type {Array<(subject: string, body: unknown) => void>} */
  #events = []
  /** @type {((m: any) => void) | undefined} */
  #hello
  #nextId = 100
  /** Media frames not sent because the connection fell behind. */
  dropped = 0

  /** @param {WebSocket} ws @param {string} tunnel @param {string} url @param {number} rttMs */
  constructor(ws, tunnel, url, rttMs) {
    this.ws = ws
    this.tunnel = tunnel
    this.url = url
    this.rttMs = rttMs
    ws.onmessage = (e) => this.#receive(e.data)
    ws.onclose = () => {
      for (const [, p] of this.#pending) p.reject(new RequestFailed("TunnelClosed", "the tunnel closed"))
      this.#pending.clear()
      this.onClose?.()
    }
  }

  /** @type {(() => void) | undefined} */
  onClose

  /**
   * Pings every tunnel at once; the first to answer wins, the rest are closed.
   *
   * @param {ReadonlyArray<string>} urls
   * @param {number} timeoutMs
   * @param {(url: string, outcome: string, ms: number) => void} [note]
   * @returns {Promise<TunnelSession>}
   */
  static connectFirst(urls, timeoutMs, note) {
    return new Promise((resolve, reject) => {
      if (urls.length === 0) return reject(new Error("the lookup listed no tunnel"))
      let done = false
      let failed = 0
      /** @type {Array<WebSocket>} */
      const sockets = []
      const started = performance.now()
      const timer = setTimeout(() => {
        if (done) return
        done = true
        for (const s of sockets) s.close()
        reject(new Error(`no tunnel answered within ${timeoutMs} ms`))
      }, timeoutMs)
      for (const url of urls) {
        const ws = new WebSocket(url)
        ws.binaryType = "arraybuffer"
        sockets.push(ws)
        let pingAt = 0
        const lose = (/** @type {string} */ why) => {
          if (done) return // closed because another tunnel won
          note?.(url, why, performance.now() - started)
          if (++failed === urls.length && !done) {
            done = true
            clearTimeout(timer)
            reject(new Error("every tunnel failed"))
          }
        }
        ws.onopen = () => {
          pingAt = performance.now()
          ws.send(JSON.stringify({ type: "ping", id: 1 }))
        }
        ws.onerror = () => lose("failed")
        ws.onmessage = (e) => {
          if (typeof e.data !== "string") return
          const m = JSON.parse(e.data)
          if (m.type !== "pong" || m.id !== 1) return
          if (done) return ws.close()
          done = true
          clearTimeout(timer)
          note?.(url, "ok", performance.now() - started)
          for (const s of sockets) if (s !== ws) s.close()
          ws.onerror = null
          resolve(new TunnelSession(ws, m.tunnel, url, performance.now() - pingAt))
        }
      }
    })
  }

  /** @param {any} data */
  #receive(data) {
    if (data instanceof ArrayBuffer) {
      const frame = new Uint8Array(data)
      if (frame.length > 1) this.#media.get(frame[0])?.(frame.subarray(1))
      return
    }
    /** @type {any} */
    let m
    try {
      m = JSON.parse(data)
    } catch {
      return
    }
    switch (m.type) {
      case "welcome":
      case "error": {
        const h = this.#hello
        this.#hello = undefined
        h?.(m)
        return
      }
      case "reply": {
        const p = this.#pending.get(m.id)
        if (p === undefined) return
        this.#pending.delete(m.id)
        clearTimeout(p.timer)
        if (m.error !== undefined) return p.reject(new RequestFailed(m.error._tag, m.error.detail))
        /** @type {any} */
        let envelope
        try {
          envelope = JSON.parse(fromBase64(m.data))
        } catch {
          return p.reject(new RequestFailed("DecodeError", "the reply is not JSON"))
        }
        if ("ok" in envelope) return p.resolve(envelope.ok)
        return p.reject(describe(envelope.fail ?? envelope.error))
      }
      case "media-open":
      case "media-refused":
        this.#opening.get(m.channel)?.(m)
        return
      case "event": {
        let body
        try {
          body = JSON.parse(fromBase64(m.data))
        } catch {
          return
        }
        for (const h of this.#events) h(m.subject, body)
        return
      }
    }
  }

  /** @param {object} m */
  #say(m) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m))
  }

  /** Presents the join token; nothing else is relayed before. @param {string} token */
  hello(token) {
    return /** @type {Promise<{ meeting: string, participant: string }>} */ (
      new Promise((resolve, reject) => {
        this.#hello = (m) => (m.type === "welcome" ? resolve(m) : reject(new Error(m.detail)))
        this.#say({ type: "hello", token })
      })
    )
  }

  /**
   * A tagged request to an actor's subject; resolves with its success.
   *
   * @param {string} subject
   * @param {{ _tag: string } & Record<string, unknown>} request
   * @param {number} timeoutMs
   * @returns {Promise<any>}
   */
  request(subject, request, timeoutMs) {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new RequestFailed("RequestTimeout", `${request._tag} to ${subject}: no answer in ${timeoutMs} ms`))
      }, timeoutMs + 500)
      this.#pending.set(id, { resolve, reject, timer })
      this.#say({ type: "request", id, subject, data: toBase64(JSON.stringify(request)), timeoutMs })
    })
  }

  /** A channel number neither open nor opening: the kind's own first. @param {keyof typeof channelOf} kind */
  #freeChannel(kind) {
    const taken = (/** @type {number} */ n) => this.#media.has(n) || this.#opening.has(n)
    if (!taken(channelOf[kind])) return channelOf[kind]
    for (let n = 3; n <= MAX_CHANNEL; n++) if (!taken(n)) return n
    return channelOf[kind]
  }

  /**
   * Opens a media channel for `kind` to an MMR's UDP media port.
   *
   * @param {keyof typeof channelOf} kind
   * @param {string} host
   * @param {number} port
   * @param {(packet: Uint8Array) => void} onPacket
   * @returns {Promise<{ send: (packet: Uint8Array) => boolean, close: () => void }>} send: false when the packet was dropped
   */
  openMedia(kind, host, port, onPacket) {
    const channel = this.#freeChannel(kind)
    return new Promise((resolve, reject) => {
      this.#opening.set(channel, (m) => {
        this.#opening.delete(channel)
        if (m.type !== "media-open") return reject(new Error(m.detail))
        this.#media.set(channel, onPacket)
        let open = true
        resolve({
          send: (packet) => {
            // A connection that fell behind loses media rather than queueing it.
            if (!open || this.ws.readyState !== WebSocket.OPEN || this.ws.bufferedAmount > 512 * 1024) {
              this.dropped++
              return false
            }
            const frame = new Uint8Array(packet.length + 1)
            frame[0] = channel
            frame.set(packet, 1)
            this.ws.send(frame)
            return true
          },
          close: () => {
            if (!open) return
            open = false
            this.#media.delete(channel)
            this.#say({ type: "close-media", channel })
          },
        })
      })
      this.#say({ type: "media", channel, kind, host, port })
    })
  }

  /** @param {(subject: string, body: unknown) => void} handler */
  onEvent(handler) {
    this.#events.push(handler)
  }

  close() {
    this.ws.close()
  }
}
