/**
 * The library's surface: the apps in src/apps are built from the public
 * entry points only (what a team embedding meetzone gets), and package.json
 * exports exactly those entry points.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Meetzone from "../../src/index.js"

const apps = join(import.meta.dirname, "../../src/apps")
const importsOf = (file: string) =>
  [...readFileSync(join(apps, file), "utf8").matchAll(/(?:import|export)[^"']*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map(
    (m) => m[1] ?? m[2]!,
  )

describe("public surface", () => {
  it("apps import nothing of the library but its public entry point", () => {
    const outside = readdirSync(apps)
      .filter((f) => f.endsWith(".ts"))
      .flatMap((f) => importsOf(f).map((spec) => ({ file: f, spec })))
      // Within the library only ../index.js; other app modules (./x.js) and packages are fine.
      .filter(({ spec }) => spec.startsWith("../") && spec !== "../index.js")
    expect(outside).toEqual([])
  })

  it("exports the actors, the topology helper, the control plane, the policies and the protocol", () => {
    for (const name of ["WebLookup", "ZoneController", "Mmr", "HttpTunnel", "Client", "Topology", "NatsBus", "InProcessBus", "NatsKv", "InProcessKv", "MmrSelection", "Geo", "JoinTokens", "Protocol"]) {
      expect(Meetzone, name).toHaveProperty(name)
    }
    expect(typeof Meetzone.Topology.launch).toBe("function")
    expect(typeof Meetzone.Client.join).toBe("function")
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { exports: Record<string, unknown> }
    expect(Object.keys(pkg.exports).sort()).toEqual([".", "./package.json", "./protocol"])
  })
})
