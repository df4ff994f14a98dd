/**
 * End-to-end key agreement, one participant's side (protocol/e2e.ts): the
 * meeting's leader makes its keys and wraps each for every other
 * participant under an X25519 agreement with that participant's key share;
 * everyone else takes the keys wrapped for them.
 *
 *   roster changed, I lead    nobody left: the newcomers get the current key
 *                             someone left, or I just became leader: a new epoch for everyone still here
 *   E2eKeys for me            from the leader only: unwrapped with my private key and the leader's share in the roster
 *   E2eKeyRequest             (I lead) the requester gets the current key again
 *   packets under a key I lack, or no key 1 s after joining → E2eKeyRequest (at most once a second)
 *
 * What the MMR passes on it cannot read; what it could do — put in key
 * shares of its own — changes the security code on every screen.
 *
 * @since 0.3.0
 */
import { randomBytes } from "node:crypto"
import type { Scope } from "effect"
import { Effect, Schedule } from "effect"
import type { E2eEvent, E2eSignal, Identity } from "../../protocol/e2e.js"
import * as E2e from "../../protocol/e2e.js"
import * as Keys from "../../protocol/media-keys.js"
import type { Participant } from "../../protocol/mmr.js"
import type { MediaCrypto } from "./media-crypto.js"

/** What the agreement did, for the report and for tests. @category models */
export interface AgreementCounters {
  /** Epochs this participant made as leader. */
  made: number
  /** Keys taken from the leader. */
  taken: number
  /** Signals refused: from someone not in the roster, under a share that is not theirs, or that did not unwrap. */
  refused: number
  /** Key requests sent. */
  requested: number
}

/** @category models */
export interface Agreement {
  readonly onRoster: (roster: ReadonlyArray<Participant>) => Effect.Effect<void>
  readonly onEvent: (event: E2eEvent) => Effect.Effect<void>
  readonly securityCode: () => string
  readonly leader: () => string | undefined
  readonly counters: Readonly<AgreementCounters>
}

/** @category models */
export interface AgreementOptions {
  readonly meeting: string
  readonly self: string
  readonly identity: Identity
  readonly ring: MediaCrypto
  /** Sends a signal to the others, through the MMR the session is on now. */
  readonly send: (signal: E2eSignal) => Effect.Effect<void, { readonly message: string }>
  /** Senders switch this long after a new key is told. Default 1000 ms. */
  readonly activateInMs?: number
}

/**
 * The agreement for the life of the scope. Its callers serialise `onRoster`
 * and `onEvent` (the session's one event fiber).
 *
 * @category constructors
 */
export const start = (options: AgreementOptions): Effect.Effect<Agreement, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { meeting, self, identity, ring } = options
    const activateInMs = options.activateInMs ?? 1000
    const counters: AgreementCounters = { made: 0, taken: 0, refused: 0, requested: 0 }
    let shares = new Map<string, string>([[self, identity.keyShare]])
    let leader: string | undefined
    /** The epoch this participant made as leader, and whom it has wrapped it for. */
    let mine: { epoch: number; key: Buffer; servedFor: Set<string> } | undefined
    const startedAt = performance.now()
    /** Per requester, when it was last answered: a request flood costs one wrap a second each. */
    const answered = new Map<string, number>()

    const wrapFor = (ids: Iterable<string>, epoch: number, key: Buffer): Record<string, string> => {
      const wrapped: Record<string, string> = {}
      for (const id of ids) {
        const share = shares.get(id)
        const wrapKey = share === undefined ? undefined : E2e.wrapKeyBetween(identity, share, meeting, identity.keyShare, share)
        if (wrapKey !== undefined) wrapped[id] = Keys.wrap(wrapKey, meeting, epoch, id, key)
      }
      return wrapped
    }
    const tell = (epoch: number, wrapped: Record<string, string>) =>
      Object.keys(wrapped).length === 0
        ? Effect.void
        : options.send({ type: "e2e-keys", epoch, keyShare: identity.keyShare, wrapped, activateInMs }).pipe(
            Effect.catchAll((e) => Effect.logWarning(`end-to-end key epoch ${epoch} not sent: ${e.message}`)),
          )
    const others = () => [...shares.keys()].filter((id) => id !== self)

    const rekey = Effect.suspend(() => {
      const epoch = E2e.newEpoch(ring.epochs())
      const key = randomBytes(32)
      const recipients = others()
      // Alone, nobody needs warning: send under it at once.
      ring.take(epoch, key, recipients.length === 0 ? 0 : activateInMs, true)
      mine = { epoch, key, servedFor: new Set(recipients) }
      counters.made++
      return Effect.zipRight(Effect.logInfo(`end-to-end key epoch ${epoch} made for ${recipients.length} other(s)`), tell(epoch, wrapFor(recipients, epoch, key)))
    })

    const onRoster = (roster: ReadonlyArray<Participant>) =>
      Effect.suspend(() => {
        const before = shares
        shares = new Map(roster.flatMap((p) => (p.keyShare !== undefined ? [[p.id, p.keyShare] as const] : [])))
        shares.set(self, identity.keyShare)
        const wasLeader = leader === self
        leader = E2e.leaderOf([...shares].map(([id, keyShare]) => ({ id, keyShare })))
        if (leader !== self) {
          mine = undefined
          return Effect.void
        }
        // Gone, or back under another share (a new join of theirs — or someone in the middle): the key must change.
        const changed = [...before].some(([id, share]) => shares.get(id) !== share)
        if (mine === undefined || !wasLeader || changed) return rekey
        const newcomers = others().filter((id) => !mine!.servedFor.has(id))
        for (const id of newcomers) mine.servedFor.add(id)
        return tell(mine.epoch, wrapFor(newcomers, mine.epoch, mine.key))
      })

    const onEvent = (event: E2eEvent) =>
      Effect.suspend(() => {
        if (event.meeting !== meeting || event.from === self) return Effect.void
        const signal = event.signal
        if (signal.type === "e2e-key-request") {
          if (leader !== self || mine === undefined || !shares.has(event.from)) return Effect.void
          const now = performance.now()
          if (now - (answered.get(event.from) ?? -Infinity) < 1000) return Effect.void
          if (answered.size > 1000) answered.clear()
          answered.set(event.from, now)
          mine.servedFor.add(event.from)
          return tell(mine.epoch, wrapFor([event.from], mine.epoch, mine.key))
        }
        const wrapped = signal.wrapped[self]
        if (wrapped === undefined) return Effect.void
        // Keys only from the leader, under its share as the roster has it: anyone else (another participant,
        // or someone in the middle with a share of its own) is refused. Who leads changes with a roster, and
        // the roster comes first on the same subject; a key refused in a race is asked for again.
        if (event.from !== leader || shares.get(event.from) !== signal.keyShare) {
          counters.refused++
          return Effect.logDebug(`end-to-end key from ${event.from} refused: ${event.from !== leader ? "not the leader" : "not under its share in the roster"}`)
        }
        const wrapKey = E2e.wrapKeyBetween(identity, signal.keyShare, meeting, signal.keyShare, identity.keyShare)
        const key = wrapKey === undefined ? undefined : Keys.unwrap(wrapKey, meeting, signal.epoch, self, wrapped)
        if (key === undefined) {
          counters.refused++
          return Effect.logDebug(`end-to-end key epoch ${signal.epoch} from ${event.from} did not unwrap`)
        }
        ring.take(signal.epoch, key, signal.activateInMs, true)
        counters.taken++
        return Effect.void
      })

    // Asking again: packets under an epoch not held, or still no key a second after joining (a lost message).
    let lastAsked = -Infinity
    const check = Effect.suspend(() => {
      const now = performance.now()
      if (leader === self || now - lastAsked < 1000) return Effect.void
      const wanted = ring.wanted() ?? (ring.epochs().length === 0 && now - startedAt > 1000 ? 0 : undefined)
      if (wanted === undefined) return Effect.void
      lastAsked = now
      counters.requested++
      return options.send({ type: "e2e-key-request", epoch: wanted }).pipe(Effect.catchAll((e) => Effect.logDebug(`end-to-end key request not sent: ${e.message}`)))
    })
    yield* check.pipe(Effect.repeat(Schedule.spaced("200 millis")), Effect.forkScoped)

    const agreement: Agreement = {
      onRoster,
      onEvent,
      securityCode: () => E2e.securityCode(meeting, [...shares].map(([id, keyShare]) => ({ id, keyShare }))),
      leader: () => leader,
      counters,
    }
    ring.endToEnd = { securityCode: agreement.securityCode, leader: agreement.leader, counters }
    return agreement
  })
