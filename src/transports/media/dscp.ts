/**
 * DSCP marks on media sockets: IP_TOS (IPv4) or IPV6_TCLASS (IPv6), set with
 * `sockopt` (Node does not expose setsockopt). Where the OS refuses, the
 * failure is logged once and media goes on unmarked.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import type { Socket as UdpSocket } from "node:dgram"
import type { Socket as TcpSocket } from "node:net"

const require = createRequire(import.meta.url)
type SetSockopt = (socket: object, level: number, option: number, value: number) => void
let setsockopt: SetSockopt | undefined
let loadError: string | undefined
try {
  setsockopt = (require("sockopt") as { setsockopt: SetSockopt }).setsockopt
} catch (e) {
  loadError = e instanceof Error ? e.message : String(e)
}

const IPPROTO_IP = 0
const IP_TOS = 1
const IPPROTO_IPV6 = 41
const IPV6_TCLASS = 67

let warned = false
const warnOnce = (detail: string) => {
  if (warned) return
  warned = true
  process.emitWarning(`media goes unmarked: cannot set DSCP (${detail})`, "MeetzoneDscpWarning")
}

/**
 * Marks every packet the socket sends with `dscp` (0–63). Returns whether it
 * took. The socket must be bound or connected.
 *
 * @category marking
 */
export const setDscp = (socket: UdpSocket | TcpSocket, dscp: number, family: 4 | 6 = 4): boolean => {
  if (setsockopt === undefined) {
    warnOnce(`sockopt not loaded: ${loadError}`)
    return false
  }
  // sockopt reads socket._handle, deprecated on dgram sockets (DEP0112); it is
  // the only way to the descriptor, so the warning is silenced for this read.
  const quiet = process.noDeprecation
  process.noDeprecation = true
  try {
    if (family === 6) setsockopt(socket, IPPROTO_IPV6, IPV6_TCLASS, dscp << 2)
    else setsockopt(socket, IPPROTO_IP, IP_TOS, dscp << 2)
    return true
  } catch (e) {
    warnOnce(e instanceof Error ? e.message : String(e))
    return false
  } finally {
    process.noDeprecation = quiet
  }
}
