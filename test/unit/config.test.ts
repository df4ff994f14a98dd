import { describe, expect, it } from "@effect/vitest"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { Effect, Either } from "effect"
import { stringify as stringifyYaml } from "yaml"
import * as Config from "../../src/topology/config.js"

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

describe("environment overrides", () => {
  const withEnv = (env: Record<string, string>) =>
    Effect.gen(function* () {
      const dir = yield* Effect.promise(() => mkdtemp(joinPath(tmpdir(), "meetzone-config-")))
      const file = joinPath(dir, "topology.yaml")
      yield* Effect.promise(() => writeFile(file, stringifyYaml(valid)))
      return yield* Effect.either(Config.load(file, env))
    })

  it.effect("set nested fields by path, case and underscores ignored, values read as YAML", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(
        yield* withEnv({
          MEETZONE__ZONES__1__MMRS__0__CAPACITY: "250",
          MEETZONE__TIMING__DRAIN_GRACE: "10 seconds",
          MEETZONE__NATS__SERVERS: '["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]',
          MEETZONE__WEB__0__OPS_TOKEN: "a-long-operator-token",
          MEETZONE_LOG_LEVEL: "debug", // single underscore: not an override
        }),
      )
      expect(config.zones[1]!.mmrs[0]!.capacity).toBe(250)
      expect(config.zones[0]!.mmrs[0]!.capacity).toBe(100)
      expect(config.timing.drainGrace).toBe("10 seconds")
      expect(config.nats.servers).toEqual(["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"])
      expect(config.web[0]!.opsToken).toBe("a-long-operator-token")
    }),
  )

  it.effect("name the variable when it names no field, and when its value is bad", () =>
    Effect.gen(function* () {
      const typo = yield* withEnv({ MEETZONE__TIMING__DRAIN_GRAZE: "1 second" })
      expect(Either.isLeft(typo) && typo.left.problems[0]).toMatchObject({
        path: "MEETZONE__TIMING__DRAIN_GRAZE",
        message: expect.stringContaining('no field "DRAIN_GRAZE"'),
      })
      const gap = yield* withEnv({ MEETZONE__ZONES__5__ID: "ap" })
      expect(Either.isLeft(gap) && gap.left.problems[0]!.message).toContain("would leave a gap")
      const bad = yield* withEnv({ MEETZONE__ZONES__0__MMRS__0__CAPACITY: "lots" })
      expect(Either.isLeft(bad) && bad.left.problems).toContainEqual({
        path: "zones.0.mmrs.0.capacity",
        message: expect.stringContaining("(set by MEETZONE__ZONES__0__MMRS__0__CAPACITY)"),
      })
    }),
  )
})
