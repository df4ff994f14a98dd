/**
 * Running a command tree as the `meetzone` CLI: a failure is one line for
 * the operator, never a stack (MEETZONE_LOG_LEVEL=debug logs the cause);
 * @effect/cli has already explained argument errors itself.
 *
 * @since 0.4.0
 */
import type { CliApp } from "@effect/cli"
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import type { Effect as EffectType } from "effect"
import { Cause, Console, Effect, Option } from "effect"
import * as CliErrors from "./cli-errors.js"

/** @category running */
export const run = (cli: (argv: ReadonlyArray<string>) => EffectType.Effect<void, unknown, CliApp.CliApp.Environment>): void =>
  cli(process.argv).pipe(
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
