/**
 * Zones ranked for a client by where it is: the operator's CIDR map first,
 * then a MaxMind-format City database (written for this test, read by the
 * real `maxmind` reader), with X-Forwarded-For believed only from trusted
 * proxies. Over the real HTTPS API; the control plane is in-process (ranking
 * needs no NATS).
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { Agent, fetch } from "undici"
import { memoryLayer } from "../../src/topology/control-plane.js"
import type { JoinInfo } from "../../src/protocol/web-api.js"
import { cityRecord, writeCityDatabase } from "../support/mmdb.js"
import * as TestTopology from "../support/topology.js"

const zones = [
  { id: "eu-west", location: { lat: 53.35, lon: -6.26 }, controllers: [{ id: "c1" }], mmrs: [{ id: "eu-1" }] },
  { id: "us-east", location: { lat: 38.9, lon: -77.04 }, controllers: [{ id: "c1" }], mmrs: [{ id: "us-1" }] },
  { id: "ap-south", location: { lat: 1.35, lon: 103.82 }, controllers: [{ id: "c1" }], mmrs: [{ id: "ap-1" }] },
]

interface Target {
  readonly web: string
  readonly ca: string
  readonly meeting: string
}

let dir: string
let scope: Scope.CloseableScope
/** Believes X-Forwarded-For from loopback. */
let trusting: Target
/** Trusts no proxy. */
let suspicious: Target

const joinInfo = async (target: Target, forwardedFor?: string) => {
  const res = await fetch(`${target.web}/api/meetings/${target.meeting}/join-info`, {
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
    dispatcher: new Agent({ connect: { ca: target.ca } }),
  })
  expect(res.status).toBe(200)
  return (await res.json()) as JoinInfo
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "meetzone-geo-"))
  const database = join(dir, "city.mmdb")
  await writeCityDatabase(database, [
    { cidr: "198.51.100.0/24", record: cityRecord("New York", "US", 40.71, -74.01) },
    { cidr: "203.0.113.0/24", record: cityRecord("Singapore", "SG", 1.29, 103.85) },
  ])
  scope = Effect.runSync(Scope.make())
  const start = (prefix: string, trustedProxies: ReadonlyArray<string>) =>
    TestTopology.start(
      TestTopology.twoZones({
        prefix,
        zones,
        web: [{ id: "web", port: 0, trustedProxies }],
        geo: {
          database,
          cidr: [
            { cidr: "10.20.0.0/16", location: { lat: 48.86, lon: 2.35 }, label: "Paris office" },
            // Overrides the database for half of its New York block.
            { cidr: "198.51.100.0/25", location: { lat: -33.87, lon: 151.21 }, label: "Sydney VPN" },
          ],
        },
      }),
      [],
    ).pipe(Effect.provide(memoryLayer), Scope.extend(scope))
  const withMeeting = async (started: { web: string; tls: { ca: string } }): Promise<Target> => {
    const res = await fetch(`${started.web}/api/meetings`, {
      method: "POST",
      body: "{}",
      dispatcher: new Agent({ connect: { ca: started.tls.ca } }),
    })
    return { web: started.web, ca: started.tls.ca, meeting: ((await res.json()) as { id: string }).id }
  }
  trusting = await withMeeting(await Effect.runPromise(start("geo", ["loopback"])))
  suspicious = await withMeeting(await Effect.runPromise(start("geo2", [])))
})

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await rm(dir, { recursive: true, force: true })
})

describe("Geo-IP zone ranking", () => {
  it.each([
    ["10.20.1.2", "cidr-map", "eu-west", "the operator map (Paris)"],
    ["198.51.100.200", "geoip", "us-east", "the database (New York)"],
    ["198.51.100.7", "cidr-map", "ap-south", "the map, which wins over the database (Sydney)"],
    ["203.0.113.9", "geoip", "ap-south", "the database (Singapore)"],
  ])("locates %s by %s and ranks %s first — %s", async (address, by, first) => {
    const info = await joinInfo(trusting, address)
    expect(info.client).toMatchObject({ address, locatedBy: by })
    expect(info.zones[0]!.id).toBe(first)
    expect(info.zones.map((z) => z.distanceKm!)).toEqual([...info.zones.map((z) => z.distanceKm!)].sort((x, y) => x - y))
  })

  it("keeps the operator's zone order for a client it cannot locate", async () => {
    const info = await joinInfo(trusting, "192.0.2.1")
    expect(info.client.locatedBy).toBe("none")
    expect(info.zones.map((z) => z.id)).toEqual(["eu-west", "us-east", "ap-south"])
  })

  it("believes X-Forwarded-For only from a trusted proxy", async () => {
    const info = await joinInfo(suspicious, "203.0.113.9")
    expect(info.client.address).toMatch(/127\.0\.0\.1$/)
    expect(info.client.locatedBy).toBe("none")
  })
})

