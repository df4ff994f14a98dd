import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import * as Proxy from "../../src/actors/client/proxy.js"

const web = new URL("https://web.meetzone.example:8443/api")
const detect = (env: Record<string, string>, explicit?: string, target = web) =>
  Option.getOrUndefined(Proxy.detect(target, explicit, env))

describe("proxy detection", () => {
  it("uses HTTPS_PROXY (either case) for an https URL, and ALL_PROXY when that is all there is", () => {
    expect(detect({ HTTPS_PROXY: "http://proxy:3128" })?.url).toBe("http://proxy:3128")
    expect(detect({ https_proxy: "proxy:3128" })?.url).toBe("http://proxy:3128")
    expect(detect({ ALL_PROXY: "http://all:8080" })?.url).toBe("http://all:8080")
    expect(detect({ HTTP_PROXY: "http://plain:80" })).toBeUndefined()
    expect(detect({})).toBeUndefined()
  })

  it("lets an explicit setting win, including 'none'", () => {
    expect(detect({ HTTPS_PROXY: "http://env:1" }, "http://mine:2")).toMatchObject({ url: "http://mine:2", source: "explicit" })
    expect(detect({ HTTPS_PROXY: "http://env:1" }, "none")).toBeUndefined()
  })

  it("turns credentials in the URL into a Proxy-Authorization header and strips them from the URL", () => {
    const p = detect({ HTTPS_PROXY: "http://alice:s%3Acret@proxy:3128" })
    expect(p?.url).toBe("http://proxy:3128")
    expect(p?.authorization).toBe(`Basic ${Buffer.from("alice:s:cret").toString("base64")}`)
  })

  it.each([
    ["*", true],
    ["web.meetzone.example", true],
    ["meetzone.example", true],
    [".meetzone.example", true],
    ["*.meetzone.example", true],
    ["eetzone.example", false],
    ["other.example, meetzone.example", true],
    ["web.meetzone.example:8443", true],
    ["web.meetzone.example:443", false],
  ])("NO_PROXY=%s exempts web.meetzone.example:8443: %s", (noProxy, exempt) => {
    expect(detect({ HTTPS_PROXY: "http://proxy:3128", NO_PROXY: noProxy }) === undefined).toBe(exempt)
  })

  it.each([
    ["10.0.0.0/8", "https://10.1.2.3/", true],
    ["10.0.0.0/8", "https://11.1.2.3/", false],
    ["127.0.0.1", "https://127.0.0.1:9/", true],
    ["::1", "https://[::1]:9/", true],
    ["fd00::/8", "https://[fd12::1]/", true],
    ["localhost", "https://localhost/", true],
  ])("NO_PROXY=%s for %s exempts: %s", (noProxy, url, exempt) => {
    expect(detect({ https_proxy: "http://proxy:3128", no_proxy: noProxy }, undefined, new URL(url)) === undefined).toBe(exempt)
  })
})
