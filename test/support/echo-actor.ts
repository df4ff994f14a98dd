/**
 * A small actor whose protocol exercises every path of the kernel: state,
 * declared failures, defects, ordering, slowness and correlation.
 */
import type { Duration } from "effect"
import { Effect, Ref, Schema } from "effect"
import * as Actor from "../../src/runtime/Actor.js"
import * as Protocol from "../../src/protocol/Protocol.js"

export class DivisionByZero extends Schema.TaggedError<DivisionByZero>()("DivisionByZero", {
  dividend: Schema.Number,
}) {}

export class Echo extends Schema.TaggedRequest<Echo>()("Echo", {
  payload: { text: Schema.String },
  success: Schema.Struct({ text: Schema.String, served: Schema.Number }),
  failure: Schema.Never,
}) {}

export class Divide extends Schema.TaggedRequest<Divide>()("Divide", {
  payload: { a: Schema.Number, b: Schema.Number },
  success: Schema.Number,
  failure: DivisionByZero,
}) {}

export class Crash extends Schema.TaggedRequest<Crash>()("Crash", {
  payload: { how: Schema.Literal("throw", "die") },
  success: Schema.Void,
  failure: Schema.Never,
}) {}

export class Sleep extends Schema.TaggedRequest<Sleep>()("Sleep", {
  payload: { ms: Schema.Number },
  success: Schema.Void,
  failure: Schema.Never,
}) {}

export class Record extends Schema.TaggedRequest<Record>()("Record", {
  payload: { n: Schema.Number },
  success: Schema.Void,
  failure: Schema.Never,
}) {}

export class Recorded extends Schema.TaggedRequest<Recorded>()("Recorded", {
  payload: {},
  success: Schema.Array(Schema.Number),
  failure: Schema.Never,
}) {}

export class WhoAsks extends Schema.TaggedRequest<WhoAsks>()("WhoAsks", {
  payload: {},
  success: Schema.NullOr(Schema.String),
  failure: Schema.Never,
}) {}

export const EchoProtocol = Protocol.make("echo", Echo, Divide, Crash, Sleep, Record, Recorded, WhoAsks)

/** Counts how often the behaviour was built (start + restarts) and released. */
export interface Lifecycle {
  built: number
  released: number
}

export interface EchoOptions {
  readonly name?: string
  readonly listen?: ReadonlyArray<Actor.Listen>
  readonly mailboxCapacity?: number
  readonly concurrency?: number
  readonly drainTimeout?: Duration.DurationInput
}

export const startEcho = (
  subject: string,
  options: EchoOptions = {},
  lifecycle: Lifecycle = { built: 0, released: 0 },
) =>
  Actor.start(EchoProtocol, {
    name: options.name ?? `echo@${subject}`,
    listen: options.listen ?? [{ subject }],
    mailboxCapacity: options.mailboxCapacity,
    concurrency: options.concurrency,
    drainTimeout: options.drainTimeout,
    restart: { initialDelay: "5 millis", maxDelay: "50 millis" },
    behaviour: Effect.gen(function* () {
      lifecycle.built++
      yield* Effect.addFinalizer(() => Effect.sync(() => void lifecycle.released++))
      const served = yield* Ref.make(0)
      const recorded: Array<number> = []
      return {
        Echo: ({ text }) => Effect.map(Ref.updateAndGet(served, (n) => n + 1), (n) => ({ text, served: n })),
        Divide: ({ a, b }) => (b === 0 ? Effect.fail(new DivisionByZero({ dividend: a })) : Effect.succeed(a / b)),
        Crash: ({ how }) => {
          if (how === "throw") throw new Error("behaviour threw")
          return Effect.die(new Error("behaviour died"))
        },
        Sleep: ({ ms }) => Effect.sleep(ms),
        Record: ({ n }) => Effect.sync(() => void recorded.push(n)),
        Recorded: () => Effect.sync(() => [...recorded]),
        WhoAsks: (_, context) => Effect.succeed(context.correlationId ?? null),
      }
    }),
  })
