/**
 * What the relay and the tunnel forward: the client's request framed again
 * by the relay — its own timeout, and the token's join as correlation id,
 * whatever the client's frame claimed — so a client cannot pass its work off
 * as another join's in the actors' logs and traces. A malformed frame is a
 * BadRequest, not forwarded.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as RequestFrame from "../../src/protocol/request-frame.js"
import { ControlBus } from "../../src/runtime/ControlBus.js"
import * as MemoryBus from "../../src/transports/memory/bus.js"
import { forward } from "../../src/transports/relay/forward.js"
import { startEcho } from "../support/echo-actor.js"

const authority = { token: "t", claims: { meeting: "1234567890", participant: "eve", name: "Eve", expiresAt: 2_000_000_000 } }
const everything = { allows: () => true }
const base64 = (b: Uint8Array) => Buffer.from(b).toString("base64")
const answerOf = (forwarded: { readonly data: string } | { readonly error: unknown }) =>
  "data" in forwarded ? (JSON.parse(Buffer.from(forwarded.data, "base64").toString()) as unknown) : forwarded

describe("relay forwarding", () => {
  it.scoped("the correlation id the actor sees is the token's join, whatever the client framed; a malformed frame is refused", () =>
    Effect.gen(function* () {
      const bus = yield* ControlBus
      yield* startEcho("relay.echo")
      const ask = (data: Uint8Array) => forward(bus, everything, { subject: "relay.echo", data: base64(data), timeoutMs: 2000 }, authority)
      const forged = RequestFrame.encode(JSON.stringify({ _tag: "WhoAsks" }), 2000, "join-victim")
      expect(answerOf(yield* ask(forged))).toEqual({ ok: "join-eve" })
      expect(answerOf(yield* ask(Buffer.from(JSON.stringify({ _tag: "WhoAsks" }))))).toEqual({ ok: "join-eve" })
      expect(yield* ask(Uint8Array.of(RequestFrame.VERSION, 0, 0))).toEqual({ error: { _tag: "BadRequest", detail: "a malformed request frame" } })
    }).pipe(Effect.provide(MemoryBus.layer)),
  )
})
