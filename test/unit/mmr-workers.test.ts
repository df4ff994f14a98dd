/**
 * An MMR's workers as the configuration describes them: ids, ports and
 * capacity per worker, the mistakes an operator can make named with their
 * path, and the supervisor's restart policy (pure: no waiting).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import * as fc from "fast-check"
import { restartDelay } from "../../src/apps/mmr-supervisor.js"
import * as Config from "../../src/topology/config.js"
import * as MmrWorkers from "../../src/topology/mmr-workers.js"
import * as Topology from "../../src/topology/Topology.js"

const withMmrs = (mmrs: ReadonlyArray<object>, over: object = {}) => ({
  ...Config.defaultTopology,
  ...over,
  zones: [{ ...Config.defaultTopology.zones[0], mmrs }],
})
const problems = (input: unknown) => Either.match(Config.decode(input), { onLeft: (e) => e.problems, onRight: () => [] })

describe("MMR workers in the configuration", () => {
  it("one worker: the MMR as configured; n workers: n MMRs with their own ids and ports, each with the capacity", () => {
    const config = Either.getOrThrow(Config.decode(withMmrs([{ id: "m", mediaPort: 8801, tlsPort: 9443, capacity: 50, workers: 3 }, { id: "solo" }])))
    const [group, solo] = config.zones[0]!.mmrs
    expect(MmrWorkers.of(solo!)).toEqual([solo])
    expect(MmrWorkers.of(group!).map((w) => [w.id, w.mediaPort, w.tlsPort, w.capacity, w.group?.index])).toEqual([
      ["m-w1", 8801, 9443, 50, 1],
      ["m-w2", 8802, 9444, 50, 2],
      ["m-w3", 8803, 9445, 50, 3],
    ])
    expect(Topology.actorsOf(config).filter((a) => a.role === "mmr").map(Topology.actorId)).toEqual(["eu-west/m-w1", "eu-west/m-w2", "eu-west/m-w3", "eu-west/solo"])
  })

  it("ephemeral ports stay ephemeral; \"auto\" is one worker per core of this host", () => {
    const config = Either.getOrThrow(Config.decode(withMmrs([{ id: "m", workers: "auto" }])))
    const mmr = config.zones[0]!.mmrs[0]!
    expect(MmrWorkers.of(mmr, 4).map((w) => [w.id, w.mediaPort, w.tlsPort])).toEqual([
      ["m-w1", 0, 0],
      ["m-w2", 0, 0],
      ["m-w3", 0, 0],
      ["m-w4", 0, 0],
    ])
    expect(MmrWorkers.of(mmr, 1).map((w) => w.id)).toEqual(["m"])
  })

  it("names what is wrong: a worker id taken, ports past 65535 or overlapping, auto with per-actor identities, a bad count", () => {
    expect(problems(withMmrs([{ id: "m", workers: 2 }, { id: "m-w2" }]))).toContainEqual({ path: "zones.0.mmrs.1.id", message: 'MMR id "m-w2" is already used at zones.0.mmrs.0 (worker m-w2)' })
    expect(problems(withMmrs([{ id: "m", workers: 4, mediaPort: 65534 }]))).toContainEqual({ path: "zones.0.mmrs.0.mediaPort", message: "4 workers need ports 65534–65537, past 65535" })
    expect(problems(withMmrs([{ id: "m", workers: 4, mediaPort: 8801, tlsPort: 8803 }]))).toContainEqual({
      path: "zones.0.mmrs.0.tlsPort",
      message: "the workers' TLS ports 8803–8806 overlap their UDP/TCP ports 8801–8804 (the workers share one host)",
    })
    expect(problems(withMmrs([{ id: "m", workers: "auto" }], { nats: { credsDir: "/etc/meetzone/nats" } }))).toContainEqual({
      path: "zones.0.mmrs.0.workers",
      message: '"auto" cannot be used with nats.credsDir: every worker needs a NATS identity made in advance, so give a number (the host\'s cores)',
    })
    expect(problems(withMmrs([{ id: "m", workers: 3 }], { metrics: { port: 65534 } }))).toContainEqual({ path: "zones.0.mmrs.0.workers", message: "3 workers serve /metrics on ports 65534–65536, past 65535" })
    expect(problems(withMmrs([{ id: "m", workers: 0 }])).map((p) => p.path)).toContain("zones.0.mmrs.0.workers")
    expect(problems(withMmrs([{ id: "m", workers: 2, mediaPort: 8801, tlsPort: 8803 }]))).toEqual([])
  })
})

describe("the supervisor's restart policy", () => {
  it("doubles per consecutive crash from the configured delay, never past 30 s", () => {
    expect([1, 2, 3, 4].map((n) => Duration.toMillis(restartDelay(n, "1 second")))).toEqual([1000, 2000, 4000, 8000])
    expect(Duration.toMillis(restartDelay(10, "1 second"))).toBe(30_000)
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 60_000 }), (crashes, initial) => {
        const now = Duration.toMillis(restartDelay(crashes, Duration.millis(initial)))
        const next = Duration.toMillis(restartDelay(crashes + 1, Duration.millis(initial)))
        return now >= Math.min(initial, 30_000) && now <= 30_000 && next >= now
      }),
    )
  })
})
