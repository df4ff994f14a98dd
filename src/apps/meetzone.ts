#!/usr/bin/env node
/**
 * The `meetzone` command line.
 *
 * @since 0.1.0
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Option } from "effect"
import * as CliErrors from "./cli-errors.js"
import * as CliHelp from "./cli-help.js"
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

// Help is ours (cli-help.ts): plain text with defaults and examples; @effect/cli parses the rest.
const help = CliHelp.requested(process.argv.slice(2))
if (help !== undefined) process.stdout.write(help)
else run()

function run() {
cli(process.argv).pipe(
  // A failure is one line for the operator, never a stack (MEETZONE_LOG_LEVEL=debug logs the cause);
  // @effect/cli has already explained argument errors itself.
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    const failure = Cause.failureOption(cause)
    const error = Option.isSome(failure) ? failure.value : Cause.squash(cause)
    return Effect.zipRight(
      ValidationError.isValidationError(error)
        ? Effect.void
        : Effect.zipRight(Console.error(`meetzone: ${CliErrors.describe(error)}`), Effect.logDebug("the failure in full", cause)),
      Effect.sync(() => void (process.exitCode = 1)),
    )
  }),
  Effect.provide(NodeContext.layer),
  // Our own logger (stderr) and our own one-line errors: runMain's pretty logger writes to stdout.
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true }),
)
}
