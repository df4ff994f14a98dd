/**
 * Type-level guarantees of the public surface, checked by `tsc` (npm test
 * type-checks before it runs anything): what can go wrong is in the types,
 * and a missing service is a compile error, not a runtime surprise.
 */
import { describe, expectTypeOf, it } from "vitest"
import { Effect, Layer } from "effect"
import type { ClientErrors, ControlBus, KeyValue } from "../../src/index.js"
import { Client, Connector, InProcessBus, InProcessKv, JoinTokens, Mmr, Protocol, Topology } from "../../src/index.js"

const subjects = Protocol.Subjects.make("t")
const buckets = Protocol.Subjects.buckets("t")
const mmrConfig = { id: "m1", zone: "z", capacity: 10, subjects, buckets }

describe("types", () => {
  it("Client.join fails with exactly the typed join errors, and needs only a connector and a scope", () => {
    type Join = ReturnType<typeof Client.join>
    expectTypeOf<Effect.Effect.Error<Join>>().toEqualTypeOf<ClientErrors.JoinError>()
    expectTypeOf<Effect.Effect.Error<Join>["_tag"]>().toEqualTypeOf<
      "MeetingNotFound" | "AccessDenied" | "LookupFailed" | "ZonesUnreachable" | "NoMmrAvailable" | "MediaUnreachable" | "UseWebClient"
    >()
    expectTypeOf<Effect.Effect.Context<Join>>().toEqualTypeOf<Connector.BusConnector | import("effect").Scope.Scope>()
  })

  it("an actor's Layer says which services it needs; providing them all leaves nothing", () => {
    const mmr = Mmr.layer(mmrConfig)
    expectTypeOf<Layer.Layer.Context<typeof mmr>>().toEqualTypeOf<ControlBus.ControlBus | KeyValue.KeyValue | JoinTokens.JoinTokens>()
    const complete = mmr.pipe(Layer.provide(Layer.mergeAll(InProcessBus.layer, InProcessKv.layer, JoinTokens.layerHmac("s".repeat(32)))))
    expectTypeOf<Layer.Layer.Context<typeof complete>>().toEqualTypeOf<never>()
    // Only type-checked: running it is another test's business.
    const run = () => Effect.runPromise(Layer.launch(complete))
    expectTypeOf(run).returns.toEqualTypeOf<Promise<never>>()
  })

  it("a Layer missing a required service does not compile where it must run", () => {
    const noTokens = Mmr.layer(mmrConfig).pipe(Layer.provide(Layer.mergeAll(InProcessBus.layer, InProcessKv.layer)))
    expectTypeOf<Layer.Layer.Context<typeof noTokens>>().toEqualTypeOf<JoinTokens.JoinTokens>()
    // @ts-expect-error JoinTokens is not provided: runPromise demands no requirements left
    const run = () => Effect.runPromise(Layer.launch(noTokens))
    expectTypeOf(run).toBeFunction()
    // A topology needs a control plane, nothing else: its policies default.
    expectTypeOf<Layer.Layer.Context<ReturnType<typeof Topology.layer>>>().toEqualTypeOf<ControlBus.ControlBus | KeyValue.KeyValue>()
  })
})
