/**
 * `--help`: every command's help lists exactly the options @effect/cli
 * parses for it, each with a description, and a default for each optional
 * one; the full command path and an example; plain text when piped.
 */
import { execFileSync } from "node:child_process"
import { Command, HelpDoc, Usage } from "@effect/cli"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import { HashMap } from "effect"
import { describe, expect, it } from "vitest"
import * as CliHelp from "../../src/apps/cli-help.js"
import { client } from "../../src/apps/client.js"
import { doctor } from "../../src/apps/doctor.js"
import { meeting } from "../../src/apps/meeting.js"
import { natsAuth } from "../../src/apps/nats-auth.js"
import { controller, devCa, mmr, tunnel, web } from "../../src/apps/serve.js"
import { up } from "../../src/apps/up.js"

const text = (usage: Usage.Usage) => HelpDoc.toAnsiText(Usage.getHelp(usage))
const leaf = <N extends string, R, E, A>(c: Command.Command<N, R, E, A>) => [[...Command.getNames(c)][0]!, text(Command.getUsage(c))] as const
const group = <N extends string, R, E, A>(name: string, c: Command.Command<N, R, E, A>) =>
  [...HashMap.toEntries(Command.getSubcommands(c))].map(([sub, d]) => [`${name} ${sub}`, text(Descriptor.getUsage(d))] as const)
const leaves: Record<string, string> = Object.fromEntries([
  ...[leaf(up), leaf(web), leaf(controller), leaf(mmr), leaf(tunnel), leaf(doctor), leaf(devCa)],
  ...group("client", client),
  ...group("meeting", meeting),
  ...group("nats-auth", natsAuth),
])

/** The options @effect/cli parses, and which of them it marks optional ([--x …]). */
const parsed = (usage: string) => {
  const all = [...usage.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0])
  const optional = new Set([...usage.matchAll(/\[(--[a-z][a-z-]*)/g)].map((m) => m[1]!))
  return { all: new Set(all), optional }
}

describe("meetzone --help", () => {
  it("documents every command there is", () => {
    expect(CliHelp.commands.map((c) => c.path).sort()).toEqual(Object.keys(leaves).sort())
  })

  for (const command of CliHelp.commands) {
    it(`${command.path}: the options it parses, each described, optional ones with their default; usage and an example`, () => {
      const usage = parsed(leaves[command.path]!)
      expect(new Set(command.flags.map((f) => f.flag))).toEqual(usage.all)
      for (const f of command.flags) {
        expect(f.description.length, f.flag).toBeGreaterThan(10)
        if (usage.optional.has(f.flag)) expect(f.default, `${f.flag} is optional: its default`).toBeDefined()
      }
      const help = CliHelp.render(command)
      expect(help).toMatch(new RegExp(`^Usage: meetzone ${command.path} `))
      expect(help).toMatch(new RegExp(`^Examples?:\\n  (\\S+=\\S+ )?meetzone ${command.path}( |$)`, "m"))
      expect(help).not.toContain("A user-defined piece of text")
      expect(CliHelp.requested([...command.path.split(" "), "--help"])).toBe(help)
    })
  }

  it("piped, the real command prints it as plain text, exit 0; a group alone lists its commands", () => {
    const run = (...args: Array<string>) => execFileSync(process.execPath, ["--import", "tsx", "src/apps/meetzone.ts", ...args], { encoding: "utf8" })
    const join = run("client", "join", "--help")
    expect(join).toBe(CliHelp.render(CliHelp.commands.find((c) => c.path === "client join")!))
    expect(join).not.toMatch(/\x1b\[/)
    const group = run("client")
    expect(group).toMatch(/^Usage: meetzone client COMMAND/)
    expect(group).toContain("  join  Join a meeting")
    expect(run("--help")).toContain("  doctor ")
  }, 60_000)
})
