/**
 * The browser pages the web lookup serves (`web/` in the package): files
 * are read from that one folder only, by an allow-listed extension, with a
 * content type and a Content-Security-Policy that lets the page talk only to
 * its own origin and to WebSocket endpoints (the tunnels).
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import { extname, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Option } from "effect"

/** `web/` beside `src/` (or `dist/`): three levels up from this module. */
const defaultRoot = fileURLToPath(new URL("../../../web/", import.meta.url))

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
}

/** @category models */
export interface Asset {
  readonly body: Uint8Array
  readonly contentType: string
  readonly headers: Readonly<Record<string, string>>
}

/** @category constants */
export const securityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'self'; connect-src 'self' wss:; media-src 'self' blob:; img-src 'self' data:; object-src 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache",
}

/**
 * The file at `relative` under the web root, or none when there is no such
 * file, its type is not served, or the path leaves the root.
 *
 * @category serving
 */
export const read = (relative: string, root: string = defaultRoot): Effect.Effect<Option.Option<Asset>> => {
  const contentType = contentTypes[extname(relative)]
  const path = resolve(root, relative)
  if (contentType === undefined || !path.startsWith(root.endsWith(sep) ? root : root + sep)) return Effect.succeed(Option.none())
  return Effect.tryPromise(() => readFile(path)).pipe(
    Effect.map((body) => Option.some({ body: new Uint8Array(body), contentType, headers: securityHeaders })),
    Effect.orElseSucceed(() => Option.none<Asset>()),
  )
}
