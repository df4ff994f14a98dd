import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Config from "../../src/apps/config.js"

const valid = Config.defaultTopology
const problems = (input: unknown) =>
  Either.match(Config.decode(input), { onLeft: (e) => e.problems, onRight: () => [] })

describe("configuration", () => {
  it("decodes the default topology, filling in defaults", () => {
    const config = Either.getOrThrow(Config.decode(valid))
    expect(config.prefix).toBe("mz")
    expect(config.zones[0]!.mmrs[0]!.capacity).toBe(100)
    expect(config.timing.zoneTimeout).toBe("5.5 seconds")
  })

  it("names the path of a bad field and what was expected", () => {
    const bad = {
      ...valid,
      zones: [{ ...valid.zones[0], mmrs: [{ id: "m1", capacity: -3 }] }],
    }
    expect(problems(bad)).toContainEqual({ path: "zones.0.mmrs.0.capacity", message: "Expected a positive number, actual -3" })
  })

  it("reports every problem at once, including unknown fields and bad durations", () => {
    const bad = { ...valid, colour: "blue", timing: { zoneTimeout: "soon" }, zones: [{ ...valid.zones[0], id: "eu west" }] }
    const paths = problems(bad).map((p) => p.path)
    expect(paths).toContain("colour")
    expect(paths).toContain("timing.zoneTimeout")
    expect(paths).toContain("zones.0.id")
  })

  it("refuses duplicate ids, naming both places", () => {
    const dup = { ...valid, zones: [valid.zones[0], valid.zones[0]] }
    expect(problems(dup)).toContainEqual({ path: "zones.1.id", message: 'zone id "eu-west" is already used at zones.0.id' })
  })
})
