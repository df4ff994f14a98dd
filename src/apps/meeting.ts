/**
 * `meetzone meeting create --web URL [--topic T] [--passcode P] [--end-to-end]`: prints the new meeting's id.
 *
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { Lookup } from "../index.js"
import * as Logging from "./logging.js"
import { caOption, insecureOption, trust, webUrl } from "./tls-options.js"

const web = Options.text("web").pipe(Options.withDescription("the web lookup's URL, e.g. https://127.0.0.1:8443"), Options.optional)
const topic = Options.text("topic").pipe(Options.optional)
const passcode = Options.text("passcode").pipe(Options.optional)
const endToEnd = Options.boolean("end-to-end").pipe(
  Options.withDescription("its participants make its media keys: nothing server-side can decrypt its media"),
)

const create = Command.make(
  "create",
  { web, topic, passcode, endToEnd, ca: caOption, insecure: insecureOption },
  (args) =>
    Effect.gen(function* () {
      const http = yield* Lookup.dispatcher(yield* trust(args.ca, args.insecure), Option.none())
      const meeting = yield* Lookup.createMeeting(http, new URL(yield* webUrl(args.web)), {
        ...Option.match(args.topic, { onNone: () => ({}), onSome: (t) => ({ topic: t }) }),
        ...Option.match(args.passcode, { onNone: () => ({}), onSome: (p) => ({ passcode: p }) }),
        ...(args.endToEnd ? { endToEnd: true } : {}),
        timeoutMs: 10_000,
      })
      yield* Console.log(meeting.id)
      // stdout stays the id alone (scripts read it); the link is for the person at the terminal.
      yield* Console.error(`join in a browser: ${meeting.joinUrl}`)
    }).pipe(Effect.scoped, Effect.provide(Logging.layer({ level: "warning" }))),
).pipe(Command.withDescription("Create a meeting; prints its id."))

export const meeting = Command.make("meeting").pipe(
  Command.withDescription("Meetings."),
  Command.withSubcommands([create]),
)
