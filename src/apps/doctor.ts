/**
 * `meetzone doctor --web URL [--json]`: tries every step of the connection
 * process against a deployment, each on its own (doctor-checks.ts), and
 * prints what works, the path a join would take and why, and what to open in
 * a firewall otherwise (doctor-verdict.ts). Exit status: 0 when a join would
 * connect natively (direct, proxy or tunnel), 2 when only the web client
 * would, 1 when no join can start.
 *
 * @since 0.3.0
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { Connector } from "../index.js"
import * as Checks from "./doctor-checks.js"
import * as Verdict from "./doctor-verdict.js"
import * as Logging from "./logging.js"
import { caOption, insecureOption, trust, webUrl } from "./tls-options.js"

const web = Options.text("web").pipe(Options.withDescription("the web lookup's URL, e.g. https://meet.example.com"), Options.optional)
const meeting = Options.text("meeting").pipe(Options.withDescription("a meeting to try with (default: one made for the purpose)"), Options.optional)
const proxy = Options.text("proxy").pipe(Options.withDescription('HTTP proxy URL, or "none"; default HTTPS_PROXY / NO_PROXY'), Options.optional)
const json = Options.boolean("json").pipe(Options.withDescription("print the diagnosis as one JSON object"))

export const doctor = Command.make("doctor", { web, meeting, proxy, json, ca: caOption, insecure: insecureOption }, (args) =>
  Effect.gen(function* () {
    const findings = yield* Checks.run({
      web: yield* webUrl(args.web),
      tls: yield* trust(args.ca, args.insecure),
      ...Option.match(args.proxy, { onNone: () => ({}), onSome: (p) => ({ proxy: p }) }),
      ...Option.match(args.meeting, { onNone: () => ({}), onSome: (m) => ({ meeting: m }) }),
    })
    const diagnosis = Verdict.diagnose(findings)
    yield* Console.log(args.json ? JSON.stringify(diagnosis) : Verdict.format(diagnosis))
    const path = diagnosis.verdict.path
    if (path !== "direct" && path !== "proxy" && path !== "tunnel") process.exitCode = path === "web-client" ? 2 : 1
  }).pipe(Effect.provide(Connector.nats), Effect.provide(Logging.layer({ level: "error" }))),
).pipe(Command.withDescription("Try each step of the connection process against a deployment; say which path a join would take, and what to open otherwise."))
