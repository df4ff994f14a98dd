/**
 * A TCP connection through an HTTP proxy (HTTP CONNECT, RFC 9110 §9.3.6),
 * with Proxy-Authorization when the proxy wants credentials. What rides on
 * it (TLS media, a WebSocket) is the caller's business.
 *
 * @since 0.1.0
 */
import type { ClientRequestArgs } from "node:http"
import { Agent } from "node:https"
import type { Socket } from "node:net"
import { connect } from "node:net"
import type { Duplex } from "node:stream"
import { connect as tlsConnect } from "node:tls"
import { Data } from "effect"

/** @category models */
export interface ProxyTarget {
  /** e.g. `http://proxy.example:3128` (credentials not here; see authorization). */
  readonly url: string
  readonly authorization: string | undefined
}

/** The proxy could not be reached, gave no answer, or refused CONNECT (`status`). @category errors */
export class ProxyError extends Data.TaggedError("ProxyError")<{
  readonly status: number | undefined
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * Opens a tunnel to `host:port` through the proxy; resolves with the raw
 * socket once the proxy has said 200.
 *
 * @category connecting
 */
export const connectVia = (proxy: ProxyTarget, host: string, port: number, timeoutMs: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const url = new URL(proxy.url)
    const socket = connect(Number(url.port || 80), url.hostname)
    const authority = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`
    let buffered = Buffer.alloc(0)
    const timer = setTimeout(() => fail(new ProxyError({ status: undefined, detail: `proxy ${url.host} gave no answer to CONNECT ${authority} in ${timeoutMs} ms` })), timeoutMs)
    const fail = (e: Error) => {
      clearTimeout(timer)
      socket.destroy()
      reject(e)
    }
    socket.once("error", (e) => fail(new ProxyError({ status: undefined, detail: `proxy ${url.host}: ${e.message}` })))
    socket.once("connect", () => {
      socket.setNoDelay(true)
      socket.write(
        `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n` +
          (proxy.authorization !== undefined ? `Proxy-Authorization: ${proxy.authorization}\r\n` : "") +
          "\r\n",
      )
    })
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf("\r\n\r\n")
      if (end < 0) {
        if (buffered.length > 16 * 1024) fail(new ProxyError({ status: undefined, detail: "proxy answer too long" }))
        return
      }
      socket.off("data", onData)
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buffered.subarray(0, end).toString("latin1"))?.[1])
      if (status !== 200) {
        fail(new ProxyError({ status, detail: `proxy ${url.host} refused CONNECT ${authority}: ${buffered.subarray(0, buffered.indexOf("\r\n")).toString("latin1")}` }))
        return
      }
      clearTimeout(timer)
      socket.removeAllListeners("error")
      const rest = buffered.subarray(end + 4)
      if (rest.length > 0) socket.unshift(rest)
      resolve(socket)
    }
    socket.on("data", onData)
  })

/**
 * An https agent whose connections are TLS inside an HTTP CONNECT tunnel:
 * what a WebSocket (wss://) through a proxy rides on.
 *
 * @category connecting
 */
export class ProxyTlsAgent extends Agent {
  constructor(
    private readonly proxy: ProxyTarget,
    private readonly tls: { readonly ca?: string; readonly insecure?: boolean },
    private readonly timeoutMs: number,
  ) {
    super({ keepAlive: false })
  }
  override createConnection(options: ClientRequestArgs, callback: (err: Error | null, socket: Duplex) => void): Duplex | undefined {
    const host = options.hostname ?? options.host ?? "localhost"
    const port = Number(options.port ?? 443)
    connectVia(this.proxy, host, port, this.timeoutMs).then(
      (raw) => {
        const secure = tlsConnect({
          socket: raw,
          servername: /^[\d.:]+$/.test(host) ? undefined : host,
          ...(this.tls.ca !== undefined ? { ca: this.tls.ca } : {}),
          rejectUnauthorized: this.tls.insecure !== true,
        })
        secure.once("secureConnect", () => callback(null, secure))
        secure.once("error", (e) => callback(e, secure))
      },
      (e) => callback(e instanceof Error ? e : new Error(String(e)), undefined as unknown as Duplex),
    )
    return undefined
  }
}
