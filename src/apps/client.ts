/**
 * `meetzone client join MEETING [--web URL] [--name N] [--duration S] [--json]
 * [--audio tone] [--video pattern|FILE] [--record DIR]`: runs the connection
 * process, prints the join report, stays in the meeting for the duration
 * (sending a tone and VP8 video, recording what it hears, when asked), then leaves. Exit status 2 when nothing reached the
 * meeting (the web client's URL is printed), 1 when the join failed otherwise;
 * the report is printed all the same.
 *
 * @since 0.1.0
 */
import { mkdir } from "node:fs/promises"
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import type { ClientErrors, JoinReport } from "../index.js"
import { Client, Connector, OpusTone, Protocol, Recording, Vp8Video } from "../index.js"
import * as Logging from "./logging.js"
import * as ReportFormat from "./report-format.js"
import * as Tracing from "./tracing.js"
import { caOption, insecureOption, trust, webUrl } from "./tls-options.js"

const meetingArg = Args.text({ name: "MEETING" }).pipe(Args.withDescription("the meeting id"))
const web = Options.text("web").pipe(Options.withDescription("the web lookup's URL"), Options.optional)
const name = Options.text("name").pipe(Options.optional)
const passcode = Options.text("passcode").pipe(Options.optional)
const proxy = Options.text("proxy").pipe(
  Options.withDescription('HTTP proxy URL, or "none"; default HTTPS_PROXY / NO_PROXY'),
  Options.optional,
)
const duration = Options.float("duration").pipe(
  Options.withDescription("seconds to stay in the meeting before leaving"),
  Options.withDefault(0),
)
const json = Options.boolean("json").pipe(Options.withDescription("print the report as one JSON object"))
const mediaOption = Options.text("media").pipe(
  Options.withDescription("media kinds to connect and send, comma-separated: audio,video,content"),
  Options.optional,
)
const audio = Options.choice("audio", ["synthetic", "tone"]).pipe(
  Options.withDescription("what to send as audio: synthetic packets, or a 440 Hz tone encoded as Opus (a browser plays it)"),
  Options.withDefault("synthetic" as const),
)
const video = Options.text("video").pipe(
  Options.withDescription('what to send as video: "synthetic" packets, "pattern" (a moving test pattern as VP8, a browser shows it), or a media file\'s path (VP8, looped); VP8 needs ffmpeg'),
  Options.withDefault("synthetic"),
)
const record = Options.text("record").pipe(
  Options.withDescription("write what each sender sends: audio (Opus) to DIR/<name>-<ssrc>.ogg, video (VP8) to DIR/<name>-<ssrc>.webm"),
  Options.optional,
)
const strategy = Options.choice("strategy", ["race", "sequential"]).pipe(
  Options.withDescription("transport fallback: race (staggered, RFC 8305) or sequential"),
  Options.withDefault("race" as const),
)
const transports = Options.text("transports").pipe(
  Options.withDescription("only these transports, in order, e.g. tcp,tls"),
  Options.optional,
)
const zoneTimeout = Options.float("zone-timeout").pipe(
  Options.withDescription("seconds to wait for any zone controller (default 5.5)"),
  Options.optional,
)

const parseList = <T extends string>(text: string, allowed: ReadonlyArray<T>, flag: string) => {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "")
  const bad = items.filter((i) => !allowed.includes(i as T))
  return bad.length > 0 || items.length === 0
    ? Effect.fail(new Error(`${flag}: expected some of ${allowed.join(", ")}; got ${text}`))
    : Effect.succeed(items as unknown as ReadonlyArray<T>)
}

const joinErrorTags = new Set([
  "MeetingNotFound",
  "AccessDenied",
  "LookupFailed",
  "ZonesUnreachable",
  "NoMmrAvailable",
  "MediaUnreachable",
  "UseWebClient",
])
const isJoinError = (e: unknown): e is ClientErrors.JoinError =>
  typeof e === "object" && e !== null && joinErrorTags.has((e as { _tag?: string })._tag ?? "")

const print = (report: JoinReport.JoinReport, asJson: boolean, who: string | undefined, error?: ClientErrors.JoinError) =>
  Console.log(
    asJson
      ? JSON.stringify(error === undefined ? report : { ...report, error: { tag: error._tag, message: error.message } })
      : `${ReportFormat.format(report, who)}${error !== undefined ? `\n${error.message}` : ""}`,
  )

const join = Command.make(
  "join",
  {
    meeting: meetingArg,
    web,
    name,
    passcode,
    proxy,
    duration,
    json,
    zoneTimeout,
    media: mediaOption,
    audio,
    video,
    record,
    strategy,
    transports,
    ca: caOption,
    insecure: insecureOption,
  },
  (args) =>
    Effect.gen(function* () {
      const who = Option.getOrUndefined(args.name)
      const videoOptions = args.video === "synthetic" ? undefined : args.video === "pattern" ? {} : { file: args.video }
      if (videoOptions !== undefined) {
        const problem = Vp8Video.ffmpegProblem(videoOptions)
        if (problem !== undefined) return yield* Effect.fail(new Error(`--video ${args.video}: ${problem}`))
      }
      const sources = {
        ...(args.audio === "tone" ? { audio: OpusTone.tone() } : {}),
        ...(videoOptions !== undefined ? { video: Vp8Video.vp8(videoOptions) } : {}),
      }
      const media = Option.isNone(args.media)
        ? undefined
        : {
            kinds: yield* parseList(args.media.value, Protocol.Media.mediaKinds, "--media"),
            strategy: args.strategy,
            ...(Object.keys(sources).length > 0 ? { sources } : {}),
            ...(Option.isSome(args.transports)
              ? { transports: yield* parseList(args.transports.value, Protocol.Media.transportOrder, "--transports") }
              : {}),
          }
      const session = yield* Client.join({
        web: yield* webUrl(args.web),
        meeting: args.meeting,
        tls: yield* trust(args.ca, args.insecure),
        ...(who !== undefined ? { name: who } : {}),
        ...Option.match(args.passcode, { onNone: () => ({}), onSome: (p) => ({ passcode: p }) }),
        ...Option.match(args.proxy, { onNone: () => ({}), onSome: (p) => ({ proxy: p }) }),
        ...Option.match(args.zoneTimeout, { onNone: () => ({}), onSome: (s) => ({ zoneSelection: { deadlineMs: s * 1000 } }) }),
        ...(media !== undefined ? { media } : {}),
      }).pipe(
        Effect.tapError((e) => print(e.report, args.json, who, e)),
        // 2: nothing reached the meeting, use the web client (its URL is printed); 1: any other failure.
        Effect.tapError((e) => Effect.sync(() => void (process.exitCode = e._tag === "UseWebClient" ? 2 : 1))),
      )
      if (Option.isSome(args.record) && session.media !== undefined) {
        const dir = args.record.value
        yield* Effect.tryPromise({ try: () => mkdir(dir, { recursive: true }), catch: (e) => new Error(`--record ${dir}: ${(e as Error).message}`) })
        yield* Recording.record(session.media, dir, session.senderOf)
      }
      if (args.duration > 0) yield* Effect.sleep(args.duration * 1000)
      yield* print(yield* session.finalReport, args.json, who)
    }).pipe(
      Effect.scoped,
      // Join errors were printed with their report above; anything else goes to the CLI's handler.
      Effect.catchIf(isJoinError, () => Effect.void),
      Effect.provide(Connector.nats),
      // OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT set: the join's spans go to that collector.
      Effect.provide(Tracing.layer(Tracing.fromEnv(), "client")),
      Effect.provide(Logging.layer({ level: "warning" })),
    ),
).pipe(Command.withDescription("Join a meeting through the connection process; prints the join report."))

export const client = Command.make("client").pipe(
  Command.withDescription("A headless client."),
  Command.withSubcommands([join]),
)
