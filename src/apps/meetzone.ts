#!/usr/bin/env node
/**
 * The `meetzone` command line. Help is ours (cli-help.ts: plain text with
 * defaults and examples); @effect/cli parses the rest. An actor's own
 * command (web, controller, mmr, tunnel) loads only what actors need
 * (cli-serve.ts); every other command loads the whole tree (cli-all.ts).
 *
 * @since 0.1.0
 */
import * as CliHelp from "./cli-help.js"

const actorCommands = new Set(["web", "controller", "mmr", "tunnel"])
const help = CliHelp.requested(process.argv.slice(2))
if (help !== undefined) process.stdout.write(help)
else if (actorCommands.has(process.argv[2] ?? "")) await import("./cli-serve.js")
else await import("./cli-all.js")
