/**
 * Is an MMR's media port reachable from here? A STUN Binding Request without
 * a token (a reachability probe, answered by the media plane as a STUN server
 * answers) sent over UDP, retransmitted once; any Binding Success for it says
 * yes. For a controller weighing participants' word that media is mute.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { createSocket } from "node:dgram"
import { isIPv6 } from "node:net"
import { Effect } from "effect"
import * as Stun from "../../protocol/stun.js"

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
