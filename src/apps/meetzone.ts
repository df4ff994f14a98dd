#!/usr/bin/env node
/**
 * The `meetzone` command line.
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { client } from "./client.js"
import { meeting } from "./meeting.js"
import { up } from "./up.js"

const meetzone = Command.make("meetzone").pipe(
  Command.withDescription("meetzone: connect people to meetings — zones, media routers, transport fallback."),
  Command.withSubcommands([up, meeting, client]),
)

const cli = Command.run(meetzone, { name: "meetzone", version: "0.1.0" })

cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
