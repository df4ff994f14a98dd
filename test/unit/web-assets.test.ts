/**
 * What the web lookup serves from web/: its own files, with a type and a
 * CSP, and nothing outside the folder or of a type it does not serve.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as WebAssets from "../../src/actors/web-lookup/web-assets.js"

describe("web assets", () => {
  it.effect("serves the web client's files with their content type and a content security policy", () =>
    Effect.gen(function* () {
      const page = Option.getOrThrow(yield* WebAssets.read("client/index.html"))
      expect(page.contentType).toBe("text/html; charset=utf-8")
      expect(new TextDecoder().decode(page.body)).toContain('src="/web/client/app.js"')
      expect(page.headers["content-security-policy"]).toContain("default-src 'self'")
      const script = Option.getOrThrow(yield* WebAssets.read("client/app.js"))
      expect(script.contentType).toBe("text/javascript; charset=utf-8")
    }),
  )

  it.effect("refuses paths that leave web/, types it does not serve, and files that are not there", () =>
    Effect.gen(function* () {
      for (const path of ["../package.json", "client/../../src/apps/meetzone.ts", "/etc/passwd", "client/types.d.ts", "tsconfig.json", "client/nope.js", "%2e%2e/package.json"]) {
        expect(Option.isNone(yield* WebAssets.read(path)), path).toBe(true)
      }
    }),
  )
})
