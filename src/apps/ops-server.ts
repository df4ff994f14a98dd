/**
 * Each process's operations endpoint, plain HTTP on the metrics host and port
 * (loopback by default; Prometheus scrapes it):
 *
 *   GET /metrics   Prometheus text
 *   GET /healthz   200 {"ok":true,"actors":[…]}
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import type { Scope } from "effect"
import { Data, Effect } from "effect"
import type { Registry } from "prom-client"

/** @category errors */
export class OpsServerError extends Data.TaggedError("OpsServerError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/** @category models */
export interface OpsServer {
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string
}

/**
 * Serves `registry` for the life of the scope.
 *
 * @category constructors
 */
export const serve = (options: {
  readonly host: string
  readonly port: number
  readonly registry: Registry
  readonly actors: ReadonlyArray<string>
}): Effect.Effect<OpsServer, OpsServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<OpsServer & { readonly close: () => Promise<void> }, OpsServerError>((resume) => {
      const server = createServer((request, response) => {
        const path = (request.url ?? "/").split("?")[0]
        if (request.method !== "GET") {
          response.writeHead(405, { allow: "GET" }).end()
        } else if (path === "/metrics") {
          options.registry.metrics().then(
            (text) => response.writeHead(200, { "content-type": options.registry.contentType }).end(text),
            (e: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${String(e)}`),
          )
        } else if (path === "/healthz") {
          response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, actors: options.actors }))
        } else {
          response.writeHead(404, { "content-type": "text/plain" }).end("not found: /metrics, /healthz")
        }
      })
      server.once("error", (e) => resume(Effect.fail(new OpsServerError({ detail: `metrics port ${options.host}:${options.port}: ${e.message}` }))))
      server.listen(options.port, options.host, () => {
        const { port } = server.address() as AddressInfo
        const host = options.host.includes(":") ? `[${options.host}]` : options.host
        resume(
          Effect.succeed({
            url: `http://${host}:${port}`,
            close: () => new Promise<void>((done) => server.close(() => done()).closeAllConnections()),
          }),
        )
      })
    }),
    (s) => Effect.promise(s.close),
  )
