/**
 * The per-actor commands alone (web, controller, mmr, tunnel): what an
 * actor's process loads, without the client, the doctor or `up`, so that
 * it starts sooner. The same commands as in cli-all.ts.
 *
 * @since 0.4.0
 */
import { Command } from "@effect/cli"
import { run } from "./cli-run.js"
import { controller, mmr, tunnel, web } from "./serve.js"

const meetzone = Command.make("meetzone").pipe(Command.withSubcommands([web, controller, mmr, tunnel]))

run(Command.run(meetzone, { name: "meetzone", version: "0.1.0" }))
