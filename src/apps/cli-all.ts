/**
 * Every `meetzone` command, as one tree.
 *
 * @since 0.4.0
 */
import { Command } from "@effect/cli"
import { client } from "./client.js"
import { run } from "./cli-run.js"
import { doctor } from "./doctor.js"
import { meeting } from "./meeting.js"
import { natsAuth } from "./nats-auth.js"
import { controller, devCa, mmr, tunnel, web } from "./serve.js"
import { up } from "./up.js"

const meetzone = Command.make("meetzone").pipe(
  Command.withDescription("meetzone: connect people to meetings — zones, media routers, transport fallback."),
  Command.withSubcommands([up, web, controller, mmr, tunnel, meeting, client, doctor, devCa, natsAuth]),
)

run(Command.run(meetzone, { name: "meetzone", version: "0.1.0" }))
