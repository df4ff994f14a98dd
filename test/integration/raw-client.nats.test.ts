/**
 * What an operator poking an actor with a plain NATS client sees: a readable
 * DecodeError for garbage, a readable answer for a well-formed request, and
 * an actor that keeps serving throughout.
 */
import { connect } from "@nats-io/transport-node"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { ask } from "../../src/runtime/Ask.js"
import { uniqueSubject } from "../support/contracts/control-bus.js"
import { Echo, startEcho } from "../support/echo-actor.js"
import { TestNats, serverWithClient } from "../support/nats.js"

layer(serverWithClient, { excludeTestServices: true })("an actor asked by a raw nats.js client", (it) => {
  it.scoped("answers garbage with a DecodeError reply and goes on serving", () =>
    Effect.gen(function* () {
      const server = yield* TestNats
      const subject = uniqueSubject("raw")
      const actor = yield* startEcho(subject)
      const raw = yield* Effect.acquireRelease(
        Effect.promise(() => connect({ servers: server.url, name: "raw-operator" })),
        (nc) => Effect.promise(() => nc.close()),
      )

      const garbage = yield* Effect.promise(() => raw.request(subject, "\u0000\u00ff not json", { timeout: 2000 }))
      const answer = garbage.json<{ error: { _tag: string; side: string; issue: string } }>()
      expect(answer.error._tag).toBe("DecodeError")
      expect(answer.error.side).toBe("request")
      expect(answer.error.issue).toMatch(/malformed/)

      const missingField = yield* Effect.promise(() =>
        raw.request(subject, JSON.stringify({ _tag: "Echo" }), { timeout: 2000 }),
      )
      expect(missingField.json<{ error: { issue: string } }>().error.issue).toMatch(/text/)

      const wellFormed = yield* Effect.promise(() =>
        raw.request(subject, JSON.stringify({ _tag: "Echo", text: "by hand" }), { timeout: 2000 }),
      )
      expect(wellFormed.json()).toEqual({ ok: { text: "by hand", served: 1 } })

      expect(yield* ask(subject, new Echo({ text: "typed" }))).toEqual({ text: "typed", served: 2 })
      expect((yield* actor.stats).decodeErrors).toBe(2)
    }),
  )
})
