/**
 * How a client opens a TLS WebSocket (the relay's, the tunnel's): trusting
 * the given CA, or through the HTTP proxy with CONNECT when there is one.
 *
 * @since 0.1.0
 */
import type { ClientOptions } from "ws"
import type { ProxyTarget } from "./proxy.js"
import { ProxyTlsAgent } from "./proxy.js"

/** What a client trusts: a CA (PEM), or nothing at all (tests, explicitly). @category models */
export interface WebSocketTls {
  readonly ca?: string
  readonly insecure?: boolean
}

/** How to reach a WebSocket server: whom to trust, which proxy, how long the handshake may take. @category models */
export interface WebSocketConnect {
  readonly tls?: WebSocketTls
  readonly proxy?: ProxyTarget
  readonly timeoutMs: number
  /** Presented as `Authorization: Bearer …` when the connection opens (the relay's join token). */
  readonly bearer?: string
}

/**
 * `ws` client options for `tls` and `proxy`, the handshake bounded by `timeoutMs`.
 *
 * @category connecting
 */
export const clientOptions = (tls: WebSocketTls, proxy: ProxyTarget | undefined, timeoutMs: number, bearer?: string): ClientOptions => ({
  handshakeTimeout: timeoutMs,
  ...(bearer !== undefined ? { headers: { authorization: `Bearer ${bearer}` } } : {}),
  ...(proxy !== undefined
    ? { agent: new ProxyTlsAgent(proxy, tls, timeoutMs) }
    : { ...(tls.ca !== undefined ? { ca: tls.ca } : {}), rejectUnauthorized: tls.insecure !== true }),
})
