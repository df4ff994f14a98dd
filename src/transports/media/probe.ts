/**
 * Is an MMR's media port reachable from here? A STUN Binding Request without
 * a token (a reachability probe, answered by the media plane as a STUN server
 * answers) sent over UDP, retransmitted once; any Binding Success for it says
 * yes. For a controller weighing participants' word that media is mute; and
 * `udpWatch`, a steady trickle of them, for a media kind off UDP deciding
 * when to come back.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { createSocket } from "node:dgram"
import { isIPv6 } from "node:net"
import { Effect } from "effect"
import * as Stun from "../../protocol/stun.js"
import { setDscp } from "./dscp.js"

/**
 * True when `host:port` answers within `timeoutMs` (two requests, half of it apart).
 *
 * @category probing
 */
export const udp = (host: string, port: number, timeoutMs: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = createSocket(isIPv6(host) ? "udp6" : "udp4")
    const transaction = randomBytes(12)
    const request = Stun.consentRequest(transaction)
    let settled = false
    const finish = (answer: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(retry)
      clearTimeout(deadline)
      socket.close()
      resume(Effect.succeed(answer))
    }
    socket.on("message", (packet) => {
      const m = Stun.decode(packet)
      if (m?.type === Stun.Type.BindingSuccess && m.transactionId.equals(transaction)) finish(true)
    })
    // An unreachable port (ICMP) or a send error says no as surely as silence does.
    socket.on("error", () => finish(false))
    const send = () => socket.send(request, port, host, (e) => void (e !== null && e !== undefined && finish(false)))
    send()
    const retry = setTimeout(send, timeoutMs / 2)
    const deadline = setTimeout(() => finish(false), timeoutMs)
    return Effect.sync(() => finish(false))
  })

/** A path under continuous watch: see `udpWatch`. @category models */
export interface UdpWatch {
  /** The share of checks unanswered among those sent since the last take and older than the timeout; none when too few. */
  readonly take: () => number | undefined
  readonly close: () => void
}

/**
 * A reachability check to `host:port` every `spacingMs`, for as long as it
 * is open: the loss of a path watched without gaps. Short bursts now and
 * then can line up with loss that comes and goes (every burst in a quiet
 * moment) and call a bad path good; a steady trickle (10 checks a second of
 * ~60 bytes at the default) cannot.
 *
 * @category probing
 */
export const udpWatch = (host: string, port: number, spacingMs: number, timeoutMs: number, dscp?: number): UdpWatch => {
  const socket = createSocket(isIPv6(host) ? "udp6" : "udp4")
  // Transaction → when it was sent and whether it was answered; bounded by the takes (or by the cap below).
  const checks = new Map<string, { readonly at: number; answered: boolean }>()
  let closed = false
  socket.on("message", (packet) => {
    const m = Stun.decode(packet)
    if (m?.type !== Stun.Type.BindingSuccess) return
    const check = checks.get(m.transactionId.toString("hex"))
    if (check !== undefined && performance.now() - check.at <= timeoutMs) check.answered = true
  })
  socket.on("error", () => {}) // an unreachable port is an unanswered check
  let timer: ReturnType<typeof setInterval> | undefined
  socket.bind(0, () => {
    if (closed) return
    if (dscp !== undefined) setDscp(socket, dscp, isIPv6(host) ? 6 : 4)
    timer = setInterval(() => {
      if (checks.size >= 10_000) return // nobody is taking: stop recording rather than grow
      const transaction = randomBytes(12)
      checks.set(transaction.toString("hex"), { at: performance.now(), answered: false })
      socket.send(Stun.consentRequest(transaction), port, host, () => {})
    }, spacingMs)
  })
  return {
    take: () => {
      const matured = performance.now() - timeoutMs
      let sent = 0
      let answered = 0
      for (const [id, check] of checks) {
        if (check.at > matured) break // in send order: the rest are younger
        sent++
        if (check.answered) answered++
        checks.delete(id)
      }
      return sent < 5 ? undefined : 1 - answered / sent
    },
    close: () => {
      if (closed) return
      closed = true
      if (timer !== undefined) clearInterval(timer)
      socket.close()
    },
  }
}
