/**
 * A client's credentials allow exactly the documented set, over generated
 * subjects: requests to its join's zones' controllers and to MMRs' client
 * subjects; its own inbox and its own meeting's roster — nothing else. The
 * documented set is written out here independently of permissions.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Permissions from "../../src/protocol/permissions.js"
import * as Subjects from "../../src/protocol/subjects.js"

const subjects = Subjects.make()
const token = fc.constantFrom("mz", "zone", "eu", "us", "ap", "assign", "controller", "c1", "mmr", "m1", "admin", "meeting", "1000000001", "1000000002", "roster", "load", "ada", "grace", "_I", "c", "_INBOX", "$JS", "API", "$KV", "*", ">", "x")
const subject = fc.array(token, { minLength: 1, maxLength: 7 }).map((ts) => ts.join("."))
const scope = { participant: "ada", meeting: "1000000001", zones: [{ id: "eu" }, { id: "us" }] }

/** The README's words, as predicates: what a client of `scope` may publish and subscribe to. */
const documented = {
  publish: (s: string) => {
    const t = s.split(".")
    const zone = t[2] !== undefined && scope.zones.some((z) => z.id === t[2])
    const literal = !t.includes("*") && !t.includes(">")
    return (
      literal &&
      t[0] === "mz" &&
      ((t[1] === "zone" && zone && ((t.length === 4 && t[3] === "assign") || (t.length === 5 && t[3] === "controller"))) ||
        (t[1] === "mmr" && t.length === 3))
    )
  },
  subscribe: (s: string) => {
    const t = s.split(".")
    const ownInbox = t.length >= 4 && t[0] === "_I" && t[1] === "c" && t[2] === scope.participant && !t.slice(0, 3).some((x) => x === "*" || x === ">")
    return ownInbox || s === subjects.meetingRoster(scope.meeting)
  },
}

/** For a subscription with wildcards: allowed only when every subject it can match is (NATS checks pattern against pattern). */
const coveredBy = (allowed: ReadonlyArray<string>, pattern: string) =>
  allowed.some((a) => Permissions.matches(a, pattern) && (!pattern.includes(">") || a.endsWith(">")))

describe("a client's permissions", () => {
  const permissions = Permissions.forClient(subjects, scope)

  it.prop("publishing: allowed exactly on the documented subjects", [subject], ([s]) => {
    if (s.includes("*") || s.includes(">")) return // nobody publishes to a wildcard; the server refuses it anyway
    expect(Permissions.allows(permissions.publish, s)).toBe(documented.publish(s))
  }, { fastCheck: { numRuns: 3000 } })

  it.prop("subscribing: allowed exactly on its own inbox and its own meeting's roster", [subject], ([s]) => {
    if (s.includes("*") || s.includes(">")) {
      // A wildcard subscription is allowed only inside its own inbox.
      if (coveredBy(permissions.subscribe, s)) expect(s.startsWith(`${Permissions.inboxPrefix.client(scope.participant)}.`)).toBe(true)
      return
    }
    expect(Permissions.allows(permissions.subscribe, s)).toBe(documented.subscribe(s))
  }, { fastCheck: { numRuns: 3000 } })

  it("never reaches JetStream, KV, load, presence or admin subjects", () => {
    for (const s of ["$JS.API.INFO", "$KV.mz_placements.1", "mz.zone.eu.load", "mz.mmr.m1.admin", "_INBOX.x", "_I.c.grace.x", "mz.meeting.1000000002.roster"]) {
      expect(Permissions.allows(permissions.publish, s) || Permissions.allows(permissions.subscribe, s), s).toBe(false)
    }
  })
})

describe("subject matching (NATS wildcards)", () => {
  it("follows NATS's rules for * and >", () => {
    expect(Permissions.matches("a.*.c", "a.b.c")).toBe(true)
    expect(Permissions.matches("a.*.c", "a.b.c.d")).toBe(false)
    expect(Permissions.matches("a.>", "a.b.c")).toBe(true)
    expect(Permissions.matches("a.>", "a")).toBe(false)
    expect(Permissions.matches("a.b", "a.b.c")).toBe(false)
  })
})
