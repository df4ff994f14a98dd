// @ts-check
/**
 * End-to-end key agreement in the page, with WebCrypto (X25519, HKDF,
 * AES-GCM): the same protocol as src/protocol/e2e.ts and
 * src/actors/client/e2e-agreement.ts, so that browsers and headless
 * clients share one end-to-end meeting. The leader (smallest id with a key
 * share) makes each epoch's key and wraps it for everyone else; a leave
 * makes a new epoch; keys are taken from the leader only, under its share
 * in the roster.
 */
import { fromBase64, toBase64 } from "./srtp.js"

const enc = new TextEncoder()
/** @param {Uint8Array} bytes */
const own = (bytes) => new Uint8Array(bytes)

/** This join's X25519 key pair: its public half (base64) goes with the Join. */
export const newIdentity = async () => {
  const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]))
  const keyShare = toBase64(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)))
  return { keyShare, privateKey: pair.privateKey }
}

/**
 * The wrap key between this identity and `peerShare` (as wrapKeyBetween in e2e.ts), or undefined for a bad or low-order share.
 * @param {{ privateKey: CryptoKey }} own_ @param {string} peerShare @param {string} meeting @param {string} leaderShare @param {string} recipientShare
 */
export const wrapKeyBetween = async (own_, peerShare, meeting, leaderShare, recipientShare) => {
  try {
    const peer = await crypto.subtle.importKey("raw", own(fromBase64(peerShare)), { name: "X25519" }, false, [])
    const shared = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: peer }, own_.privateKey, 256))
    if (shared.every((b) => b === 0)) return undefined
    const ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"])
    const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: enc.encode(meeting), info: enc.encode(`meetzone e2e ${leaderShare} ${recipientShare}`) }, ikm, 256)
    return crypto.subtle.importKey("raw", bits, "AES-GCM", false, ["encrypt", "decrypt"])
  } catch {
    return undefined
  }
}

/** @param {string} meeting @param {number} epoch @param {string} participant */
const aad = (meeting, epoch, participant) => enc.encode(`${meeting}|${epoch}|${participant}`)

/** @param {CryptoKey} wrapKey @param {string} meeting @param {number} epoch @param {string} participant @param {Uint8Array} key */
const wrap = async (wrapKey, meeting, epoch, participant, key) => {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const body = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(meeting, epoch, participant), tagLength: 128 }, wrapKey, own(key)))
  const out = new Uint8Array(12 + body.length)
  out.set(iv)
  out.set(body, 12)
  return toBase64(out)
}

/** @param {CryptoKey} wrapKey @param {string} meeting @param {number} epoch @param {string} participant @param {string} wrapped */
const unwrap = async (wrapKey, meeting, epoch, participant, wrapped) => {
  const bytes = fromBase64(wrapped)
  if (bytes.length !== 60) return undefined
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: own(bytes.subarray(0, 12)), additionalData: aad(meeting, epoch, participant), tagLength: 128 }, wrapKey, own(bytes.subarray(12))),
    )
  } catch {
    return undefined
  }
}

/** @param {ReadonlyArray<{ id: string, keyShare?: string }>} roster */
export const leaderOf = (roster) => {
  /** @type {string | undefined} */
  let leader
  for (const p of roster) if (p.keyShare !== undefined && (leader === undefined || p.id < leader)) leader = p.id
  return leader
}

/** @param {string} text */
const sha256 = async (text) => new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(text)))

/** A new epoch id: random, never 0, none of `held` (as newEpoch in e2e.ts). @param {ReadonlyArray<number>} held */
export const newEpoch = (held) => {
  for (;;) {
    const epoch = crypto.getRandomValues(new Uint32Array(1))[0]
    if (epoch !== 0 && epoch !== 0xffffffff && !held.includes(epoch)) return epoch
  }
}

/** Six groups of five digits (as securityCode in e2e.ts). @param {string} meeting @param {ReadonlyArray<{ id: string, keyShare?: string }>} roster */
export const securityCode = async (meeting, roster) => {
  const lines = roster.filter((p) => p.keyShare !== undefined).map((p) => `${p.id}:${p.keyShare}`).sort()
  const digest = await sha256(`meetzone security code\n${meeting}\n${lines.join("\n")}`)
  const view = new DataView(digest.buffer)
  return Array.from({ length: 6 }, (_, i) => String(view.getUint32(i * 4) % 100_000).padStart(5, "0")).join(" ")
}

/**
 * One participant's side of the agreement, over `ring` (srtp.js keyRing). Calls are queued in order.
 *
 * @param {{ meeting: string, self: string, identity: { keyShare: string, privateKey: CryptoKey }, ring: ReturnType<typeof import("./srtp.js").keyRing>,
 *           send: (signal: unknown) => Promise<unknown>, activateInMs?: number }} options
 */
export const agreement = (options) => {
  const { meeting, self, identity, ring } = options
  const activateInMs = options.activateInMs ?? 1000
  const counters = { made: 0, taken: 0, refused: 0, requested: 0 }
  /** @type {Map<string, string>} */
  let shares = new Map([[self, identity.keyShare]])
  /** @type {string | undefined} */
  let leader
  /** @type {{ epoch: number, key: Uint8Array, servedFor: Set<string> } | undefined} */
  let mine
  let code = /** @type {string | undefined} */ (undefined)
  const startedAt = performance.now()
  /** @type {Map<string, number>} */
  const answered = new Map()
  let chain = Promise.resolve()
  /** @param {() => Promise<void>} step */
  const queued = (step) => (chain = chain.then(step).catch(() => undefined))

  /** @param {Iterable<string>} ids @param {number} epoch @param {Uint8Array} key */
  const tell = async (ids, epoch, key) => {
    /** @type {Record<string, string>} */
    const wrapped = {}
    for (const id of ids) {
      const share = shares.get(id)
      const wk = share === undefined ? undefined : await wrapKeyBetween(identity, share, meeting, identity.keyShare, share)
      if (wk !== undefined) wrapped[id] = await wrap(wk, meeting, epoch, id, key)
    }
    if (Object.keys(wrapped).length > 0) await options.send({ type: "e2e-keys", epoch, keyShare: identity.keyShare, wrapped, activateInMs }).catch(() => {})
  }
  const others = () => [...shares.keys()].filter((id) => id !== self)
  const rekey = async () => {
    const epoch = newEpoch(ring.epochs())
    const key = crypto.getRandomValues(new Uint8Array(32))
    const recipients = others()
    ring.take(epoch, key, recipients.length === 0 ? 0 : activateInMs, true)
    mine = { epoch, key, servedFor: new Set(recipients) }
    counters.made++
    await tell(recipients, epoch, key)
  }

  /** @param {ReadonlyArray<{ id: string, keyShare?: string }>} roster */
  const onRoster = (roster) =>
    queued(async () => {
      const before = shares
      shares = new Map(roster.flatMap((p) => (p.keyShare !== undefined ? [[p.id, p.keyShare]] : [])))
      shares.set(self, identity.keyShare)
      code = await securityCode(meeting, [...shares].map(([id, keyShare]) => ({ id, keyShare })))
      const wasLeader = leader === self
      leader = leaderOf([...shares].map(([id, keyShare]) => ({ id, keyShare })))
      if (leader !== self) return void (mine = undefined)
      const changed = [...before].some(([id, share]) => shares.get(id) !== share)
      if (mine === undefined || !wasLeader || changed) return rekey()
      const current = mine
      const newcomers = others().filter((id) => !current.servedFor.has(id))
      for (const id of newcomers) current.servedFor.add(id)
      await tell(newcomers, current.epoch, current.key)
    })

  /** @param {{ meeting: string, from: string, signal: any }} event */
  const onEvent = (event) =>
    queued(async () => {
      if (event.meeting !== meeting || event.from === self) return
      const signal = event.signal
      if (signal?.type === "e2e-key-request") {
        if (leader !== self || mine === undefined || !shares.has(event.from)) return
        const now = performance.now()
        if (now - (answered.get(event.from) ?? -Infinity) < 1000) return
        answered.set(event.from, now)
        mine.servedFor.add(event.from)
        return tell([event.from], mine.epoch, mine.key)
      }
      if (signal?.type !== "e2e-keys") return
      const wrapped = signal.wrapped?.[self]
      if (typeof wrapped !== "string") return
      if (event.from !== leader || shares.get(event.from) !== signal.keyShare) return void counters.refused++
      const wk = await wrapKeyBetween(identity, signal.keyShare, meeting, signal.keyShare, identity.keyShare)
      const key = wk === undefined ? undefined : await unwrap(wk, meeting, signal.epoch, self, wrapped)
      if (key === undefined) return void counters.refused++
      ring.take(signal.epoch, key, signal.activateInMs, true)
      counters.taken++
    })

  let lastAsked = -Infinity
  const check = setInterval(() => {
    const now = performance.now()
    if (leader === self || now - lastAsked < 1000) return
    const wanted = ring.wanted() ?? (ring.epochs().length === 0 && now - startedAt > 1000 ? 0 : undefined)
    if (wanted === undefined) return
    lastAsked = now
    counters.requested++
    void options.send({ type: "e2e-key-request", epoch: wanted }).catch(() => {})
  }, 200)

  ring.endToEnd = { securityCode: () => code, leader: () => leader, counters }
  return { onRoster, onEvent, counters, stop: () => clearInterval(check) }
}
