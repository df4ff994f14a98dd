/**
 * A participant's media keys: the epochs the web tier gave it (at join, in a
 * meeting event, or fetched again), SRTP on the way out with the newest
 * active epoch, and SRTP checks on the way in — a packet that fails is
 * dropped and counted by why (forged or tampered, replayed, an epoch this
 * participant does not hold, not SRTP at all).
 *
 * A new epoch is taken for receiving at once and for sending only after its
 * `activateInMs`, so that the others hold it when its first packet arrives:
 * nobody hears a gap at the switch. A packet under an epoch this participant
 * lacks asks for the keys again (at most once a second). In an end-to-end
 * meeting the ring starts empty and its epochs come from the meeting's
 * leader (e2e-agreement.ts); until the first arrives nothing is sent.
 *
 * @since 0.2.0
 */
import type { Scope } from "effect"
import { Effect, Schedule } from "effect"
import type { MediaKind } from "../../protocol/media.js"
import type { MediaKeyEvent, MediaKeys } from "../../protocol/media-keys.js"
import * as Keys from "../../protocol/media-keys.js"
import { isRtp, sequenceNumber, ssrc as ssrcOf } from "../../protocol/rtp.js"
import * as Srtp from "../../protocol/srtp.js"

/** What a receiver did with the SRTP packets of one kind. @category models */
export interface CryptoCounters {
  decrypted: number
  /** Did not authenticate: tampered, forged, or under a key that is not the epoch's. */
  authFailed: number
  replayed: number
  /** Under an epoch this participant does not hold (not yet, or never: it left). */
  unknownEpoch: number
  /** Too short or not RTP: nothing an SRTP sender makes. */
  malformed: number
  /** Sent packets held back for want of a key (end-to-end: before the leader's first key arrived). */
  notSent: number
}

/** @category models */
export interface MediaCrypto {
  /** The packet as SRTP under the current sending epoch. */
  readonly protect: (kind: MediaKind, packet: Uint8Array) => Buffer | undefined
  /** The RTP packet inside, or undefined (counted) when it is refused. */
  readonly unprotect: (kind: MediaKind, packet: Uint8Array) => Buffer | undefined
  /** Takes a new epoch from a meeting event, when it was wrapped for this participant. */
  readonly onEvent: (event: MediaKeyEvent) => boolean
  /** Takes the epochs of a fresh answer from the web tier. */
  readonly add: (keys: MediaKeys) => void
  /** Takes one epoch's key; `follow`: sends under it next whatever its number (end-to-end: the leader's). */
  readonly take: (epoch: number, key: Buffer, activateInMs: number, follow?: boolean) => void
  /** In an end-to-end meeting: who makes its keys, and the code its participants compare. */
  endToEnd?: {
    readonly securityCode: () => string
    readonly leader: () => string | undefined
    readonly counters: Readonly<{ made: number; taken: number; refused: number; requested: number }>
  }
  /** The epoch packets go out under now. */
  readonly sendingEpoch: () => number
  /** The epochs held, oldest first. */
  readonly epochs: () => ReadonlyArray<number>
  readonly counters: Readonly<Record<MediaKind, CryptoCounters>>
  /** Set when a packet came under an epoch newer than any held: the keys should be asked for again. */
  readonly wanted: () => number | undefined
}

/**
 * Rollover counters tried for a stream's first packet: a sender that started
 * before this participant joined may be past as many wraps of its sequence
 * numbers (64 × 65,536 packets: over 11 hours of video at 100 packets/s).
 */
const ROC_SEARCH = 64
const ROC_SEARCH_EVERY_MS = 100

/** Epochs kept for receiving: the current one and a few before it (late packets, slow senders). */
const KEPT = 4

const zeroCounters = (): CryptoCounters => ({ decrypted: 0, authFailed: 0, replayed: 0, unknownEpoch: 0, malformed: 0, notSent: 0 })

/**
 * A key ring for participant `participant` of `meeting`, from its join-info's
 * keys (none: end-to-end, the keys come later from the leader).
 *
 * @category constructors
 */
export const make = (meeting: string, participant: string, initial: MediaKeys | undefined, now: () => number = () => performance.now()): MediaCrypto => {
  const held = new Map<number, Buffer>()
  const wrapKey = initial?.wrapKey === undefined ? undefined : Buffer.from(initial.wrapKey, "base64")
  let sending = 0
  let pending: { epoch: number; at: number } | undefined
  let wanted: number | undefined
  const sessionKeys = new Map<string, Srtp.SessionKeys>()
  const senders = new Map<number, Srtp.SenderIndex>()
  const windows = new Map<number, Srtp.ReplayWindow>()
  const counters = { audio: zeroCounters(), video: zeroCounters(), content: zeroCounters() }
  /** When each new stream's ROC was last searched for: forged packets cannot make a receiver search on every one. */
  const searched = new Map<number, number>()
  const searchAllowed = (ssrc: number) => {
    const t = now()
    if (t - (searched.get(ssrc) ?? -Infinity) < ROC_SEARCH_EVERY_MS) return false
    if (searched.size >= 256) searched.clear()
    searched.set(ssrc, t)
    return true
  }

  /** `follow`: send under it whatever its number (end-to-end: the leader's latest; a new leader does not know the last one's). */
  const take = (epoch: number, key: Buffer, activateInMs: number, follow = false) => {
    const had = held.get(epoch)
    if (had !== undefined && (!follow || had.equals(key))) return
    // The leader's word wins over an older key under the same id.
    if (had !== undefined) sessionKeys.clear()
    held.delete(epoch)
    held.set(epoch, key)
    // The oldest taken go first.
    for (const e of held.keys()) if (held.size > KEPT && e !== epoch && e !== sending) held.delete(e)
    if (wanted !== undefined && (follow || epoch >= wanted)) wanted = undefined
    if (follow ? epoch !== sending : epoch > sending && (pending === undefined || epoch > pending.epoch)) pending = { epoch, at: now() + activateInMs }
  }
  const add = (keys: MediaKeys) => {
    // What the web tier answers is in use already: no activation delay for any of it.
    for (const e of keys.epochs) take(e.epoch, Buffer.from(e.key, "base64"), 0)
  }
  if (initial !== undefined) add(initial)

  const keysFor = (epoch: number, ssrc: number): Srtp.SessionKeys | undefined => {
    const key = held.get(epoch)
    if (key === undefined) return undefined
    const id = `${epoch}:${ssrc}`
    let keys = sessionKeys.get(id)
    if (keys === undefined) {
      if (sessionKeys.size >= 512) sessionKeys.clear() // bounded: a flood of made-up SSRCs costs a re-derive, not memory
      sessionKeys.set(id, (keys = Srtp.deriveSessionKeys(key, ssrc)))
    }
    return keys
  }

  const sendingEpoch = () => {
    if (pending !== undefined && now() >= pending.at) {
      if (held.has(pending.epoch)) sending = pending.epoch
      pending = undefined
    }
    return sending
  }

  return {
    protect: (kind, packet) => {
      if (!isRtp(packet)) return undefined
      const ssrc = ssrcOf(packet)
      const keys = keysFor(sendingEpoch(), ssrc)
      if (keys === undefined) return void counters[kind].notSent++
      let index = senders.get(ssrc)
      if (index === undefined) senders.set(ssrc, (index = new Srtp.SenderIndex()))
      return Srtp.protect(keys, packet, index.next(sequenceNumber(packet)), sending)
    },
    unprotect: (kind, packet) => {
      const c = counters[kind]
      const epoch = Srtp.mkiOf(packet)
      if (epoch === undefined || !isRtp(packet)) return void c.malformed++
      const ssrc = ssrcOf(packet)
      const keys = keysFor(epoch, ssrc)
      if (keys === undefined) {
        c.unknownEpoch++
        // Server keys grow: an older epoch is gone for good. End-to-end ones need not: ask for any.
        if (initial === undefined || epoch > Math.max(0, ...held.keys())) wanted = Math.max(wanted ?? 0, epoch)
        return undefined
      }
      let window = windows.get(ssrc)
      if (window === undefined) {
        if (windows.size >= 256) windows.clear()
        windows.set(ssrc, (window = new Srtp.ReplayWindow()))
      }
      const sequence = sequenceNumber(packet)
      let roc = window.estimate(sequence)
      if (window.check(roc, sequence) !== undefined) return void c.replayed++
      const body = packet.subarray(0, packet.length - Srtp.MKI_SIZE)
      let plain = Srtp.unprotect(keys, body, roc)
      if (plain === undefined && window.fresh && searchAllowed(ssrc)) {
        // A stream heard for the first time: its sender may have wrapped its sequence numbers before this
        // participant joined. Find its rollover counter once (bounded: ROC_SEARCH candidates, a few searches a second).
        for (let r = 1; r < ROC_SEARCH && plain === undefined; r++) if ((plain = Srtp.unprotect(keys, body, r)) !== undefined) roc = r
      }
      if (plain === undefined) return void c.authFailed++
      window.accept(roc, sequence)
      c.decrypted++
      return plain
    },
    onEvent: (event) => {
      if (event.meeting !== meeting || wrapKey === undefined) return false
      const wrapped = event.wrapped[participant]
      if (wrapped === undefined) return false
      const key = Keys.unwrap(wrapKey, meeting, event.epoch, participant, wrapped)
      if (key === undefined) return false
      take(event.epoch, key, event.activateInMs)
      return true
    },
    add,
    take,
    sendingEpoch,
    epochs: () => [...held.keys()].sort((a, b) => a - b),
    counters,
    wanted: () => wanted,
  }
}

/**
 * Asks the web tier for the keys again whenever a packet came under an epoch
 * this participant lacks: checked every 200 ms, at most one ask a second.
 *
 * @category constructors
 */
export const refresher = <E extends { readonly detail: string }>(
  crypto: MediaCrypto,
  refresh: Effect.Effect<MediaKeys, E>,
): Effect.Effect<void, never, Scope.Scope> => {
  let lastAsked = -Infinity
  const check = Effect.suspend(() => {
    const wanted = crypto.wanted()
    if (wanted === undefined || performance.now() - lastAsked < 1000) return Effect.void
    lastAsked = performance.now()
    return refresh.pipe(
      Effect.tap((keys) => Effect.sync(() => crypto.add(keys))),
      Effect.tapError((e) => Effect.logDebug(`media keys for epoch ${wanted} not fetched: ${e.detail}`)),
      Effect.ignore,
    )
  })
  return Effect.asVoid(Effect.forkScoped(Effect.repeat(check, Schedule.spaced("200 millis"))))
}
