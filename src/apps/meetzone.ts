#!/usr/bin/env node
/**
 * The `meetzone` command line.
 *
 * @since 0.1.0
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { client } from "./client.js"
import { doctor } from "./doctor.js"
import { meeting } from "./meeting.js"
import { natsAuth } from "./nats-auth.js"
import { controller, devCa, mmr, tunnel, web } from "./serve.js"
import { up } from "./up.js"

const meetzone = Command.make("meetzone").pipe(
  Command.withDescription("meetzone: connect people to meetings — zones, media routers, transport fallback."),
  Command.withSubcommands([up, web, controller, mmr, tunnel, meeting, client, doctor, devCa, natsAuth]),
)

const cli = Command.run(meetzone, { name: "meetzone", version: "0.1.0" })

cli(process.argv).pipe(
  // A failure is one line for the operator, not a stack; @effect/cli has already
  // explained argument errors itself.
  Effect.catchAll((e) =>
    Effect.zipRight(
      ValidationError.isValidationError(e) ? Effect.void : Console.error(`meetzone: ${e instanceof Error ? e.message : String(e)}`),
      Effect.sync(() => void (process.exitCode = 1)),
    ),
  ),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: false }),
)
