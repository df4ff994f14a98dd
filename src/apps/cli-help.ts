/**
 * `--help` for every command, as a well-kept CLI writes it: the full command
 * path, what it does, every option with its value, meaning and default, and
 * an example. Plain text (no ANSI codes, so it reads the same piped or in a
 * file). @effect/cli parses the options; this says what they are (a test
 * checks the two list the same options).
 *
 * @since 0.3.0
 */

/** @category models */
export interface Flag {
  readonly flag: string
  /** The value's placeholder; none for a switch. */
  readonly value?: string
  readonly description: string
  readonly default?: string
}

/** @category models */
export interface CommandHelp {
  /** After `meetzone`, e.g. "client join". */
  readonly path: string
  readonly args?: string
  readonly summary: string
  readonly details?: ReadonlyArray<string>
  readonly flags: ReadonlyArray<Flag>
  readonly examples: ReadonlyArray<string>
}

const ca: Flag = {
  flag: "--ca",
  value: "FILE",
  description: "PEM CA certificate to trust besides the system's (`meetzone up` prints its path)",
  default: "MEETZONE_CA, else the dev CA (~/.meetzone/dev/ca.pem) when there is one",
}
const insecure: Flag = { flag: "--insecure", description: "do not verify TLS certificates (development only)", default: "off" }
const web: Flag = { flag: "--web", value: "URL", description: "the web lookup's URL, with its scheme", default: "MEETZONE_WEB, else https://127.0.0.1:8443 (dev mode's)" }
const proxy: Flag = { flag: "--proxy", value: "URL|none", description: 'an HTTP proxy to go through, or "none"', default: "HTTPS_PROXY / NO_PROXY from the environment" }
const json: Flag = { flag: "--json", description: "print the result as one JSON object (logs stay on stderr)", default: "off" }
const config: Flag = { flag: "--config", value: "FILE", description: "the deployment's configuration (YAML or JSON)" }
const id = (role: string): Flag => ({ flag: "--id", value: role === "controller" || role === "mmr" ? "ID|ZONE/ID" : "ID", description: `which ${role} of the configuration to run`, default: "the only one, when there is one" })

const serve = (role: string, summary: string, example: string): CommandHelp => ({
  path: role,
  summary,
  details: ["Reads MEETZONE__… environment overrides of the configuration; a bad field is named with its path and exits 1 before any port is bound."],
  flags: [config, id(role)],
  examples: [example],
})

/** Every command, by path. @category help */
export const commands: ReadonlyArray<CommandHelp> = [
  {
    path: "up",
    summary: "Run a whole topology in one process: the web lookup, each zone's controllers and MMRs, the HTTP tunnels.",
    details: [
      "Starts its own nats-server (JetStream, auth on) unless --nats or nats.servers is given; without the binary it uses the in-process bus and says so.",
      "Prints the web URL, the development CA's path (--ca), the dashboard link and ready-to-paste commands. Ctrl-C stops it within 2 s.",
      "With no arguments it runs in dev mode: the web lookup at MEETZONE_WEB (default https://127.0.0.1:8443) and a CA kept in ~/.meetzone/dev (MEETZONE_HOME), so that the other commands find both without --web or --ca, also after a restart.",
    ],
    flags: [
      { flag: "--config", value: "FILE", description: "topology file (YAML or JSON)", default: "2 zones × 2 controllers × 2 MMRs on loopback" },
      { flag: "--nats", value: "URLS", description: "NATS URL(s) to use, comma-separated", default: "the config's nats.servers, else a nats-server of its own" },
      { flag: "--demo", description: "create a meeting, join two clients through the whole connection process, print their reports, exit", default: "off" },
      { flag: "--keep", description: "with --demo: stay up after it (npm start -- --keep)", default: "off" },
    ],
    examples: ["meetzone up", "meetzone up --config examples/single-host.yaml --demo --keep"],
  },
  serve("web", "Run one web lookup (HTTPS: meetings, join info, the web client, /doctor, the operators' dashboard).", "meetzone web --config meetzone.yaml --id web-1"),
  serve("controller", "Run one zone controller (probes, MMR placement).", "meetzone controller --config meetzone.yaml --id eu-west/c1"),
  serve("mmr", "Run one MMR (media router), or an MMR's workers (one process each) when it has `workers`; on SIGTERM its participants move to another MMR before it stops.", "meetzone mmr --config meetzone.yaml --id eu-west/eu-mmr-1"),
  serve("tunnel", "Run one HTTP tunnel (a whole client session inside one TLS connection).", "meetzone tunnel --config meetzone.yaml --id tunnel-1"),
  {
    path: "meeting create",
    summary: "Create a meeting; prints its id (and, on stderr, the link a browser joins it at).",
    flags: [
      web,
      { flag: "--topic", value: "TEXT", description: "the meeting's topic, shown to participants", default: "none" },
      { flag: "--passcode", value: "TEXT", description: "a passcode participants must give to join", default: "none" },
      { flag: "--end-to-end", description: "its participants make its media keys: nothing server-side can decrypt its media", default: "off" },
      ca,
      insecure,
    ],
    examples: ["meetzone meeting create --web https://127.0.0.1:8443 --ca /tmp/meetzone-up-XXXX/ca.pem --topic standup"],
  },
  {
    path: "client join",
    args: "MEETING",
    summary: "Join a meeting through the connection process (lookup, zone selection, MMR, media UDP → TCP → TLS, else the tunnel); prints the join report.",
    details: ["Exit status 0 joined, 1 failed (the report says why), 2 nothing but the web client could join (its URL is printed)."],
    flags: [
      web,
      { flag: "--name", value: "TEXT", description: "the participant's name, shown to the others", default: 'the web lookup\'s: "Guest" and 4 letters' },
      { flag: "--passcode", value: "TEXT", description: "the meeting's passcode, when it has one", default: "none" },
      proxy,
      { flag: "--duration", value: "SECONDS", description: "how long to stay in the meeting before leaving", default: "0: leave once joined" },
      json,
      { flag: "--zone-timeout", value: "SECONDS", description: "how long zone selection waits for any controller", default: "5.5" },
      { flag: "--media", value: "KINDS", description: "media kinds to connect and send, comma-separated: audio,video,content", default: "none: the join ends at the MMR" },
      { flag: "--audio", value: "synthetic|tone", description: "what to send as audio: synthetic packets, or a 440 Hz tone encoded as Opus (a browser plays it)", default: "synthetic" },
      { flag: "--video", value: "synthetic|pattern|FILE", description: "what to send as video: synthetic packets, a moving test pattern, or a media file (looped), as VP8 through ffmpeg (a browser shows it)", default: "synthetic" },
      { flag: "--record", value: "DIR", description: "write what each sender sends, as received: audio to DIR/<name>-<ssrc>.ogg (Ogg Opus, RFC 7845), video to DIR/<name>-<ssrc>.webm (WebM VP8)", default: "off" },
      { flag: "--strategy", value: "race|sequential", description: "transport fallback: staggered race (RFC 8305) or one after another", default: "race" },
      { flag: "--transports", value: "LIST", description: "only these transports, in order, e.g. tcp,tls", default: "udp,tcp,tls (tls alone behind a proxy)" },
      ca,
      insecure,
    ],
    examples: [
      "meetzone client join 1234567890 --web https://127.0.0.1:8443 --ca /tmp/meetzone-up-XXXX/ca.pem --media audio,video --duration 10",
      "meetzone client join 1234567890 --media audio,video --audio tone --video pattern --record ./heard --duration 30",
    ],
  },
  {
    path: "doctor",
    summary: "Try each step of the connection process against a deployment; say which path a join would take and why, and what to open in a firewall otherwise.",
    details: ["Exit status 0 a join would connect (direct, proxy or tunnel), 2 only the web client would, 1 no join can start."],
    flags: [web, { flag: "--meeting", value: "ID", description: "a meeting to try with", default: "one made for the purpose" }, proxy, json, ca, insecure],
    examples: ["meetzone doctor --web https://meet.example.com", "HTTPS_PROXY=http://proxy:3128 meetzone doctor --web https://meet.example.com --json"],
  },
  {
    path: "dev-ca",
    summary: "Create a development CA that every process of a deployment issues its certificates from.",
    flags: [{ flag: "--out", value: "DIR", description: "folder for ca.pem and ca-key.pem (created if missing)" }],
    examples: ["meetzone dev-ca --out ./dev-ca"],
  },
  {
    path: "nats-auth init",
    summary: "Write the NATS identities (operator, account, one per actor) of a deployment to a folder.",
    flags: [
      { flag: "--config", value: "FILE", description: "the deployment's configuration (its actors get an identity each)" },
      { flag: "--out", value: "DIR", description: "folder for the secrets, the server configuration and the credentials (created if missing)" },
    ],
    examples: ["meetzone nats-auth init --config meetzone.yaml --out ./nats-auth"],
  },
]

const groups: Readonly<Record<string, string>> = {
  "": "meetzone: connect people to meetings — zones, media routers, transport fallback.",
  client: "A headless client.",
  meeting: "Meetings.",
  "nats-auth": "NATS decentralized auth for deployments that run their own NATS.",
}

const usageOf = (c: CommandHelp) => `meetzone ${c.path}${c.flags.some((f) => f.value !== undefined && f.default === undefined) ? ` ${c.flags.filter((f) => f.value !== undefined && f.default === undefined).map((f) => `${f.flag} ${f.value}`).join(" ")}` : ""} [options]${c.args !== undefined ? ` ${c.args}` : ""}`

/** One command's help. @category help */
export const render = (c: CommandHelp): string => {
  const left = (f: Flag) => `${f.flag}${f.value !== undefined ? ` ${f.value}` : ""}`
  const width = Math.max(...c.flags.map((f) => left(f).length), "-h, --help".length)
  const option = (l: string, text: string) => `  ${l.padEnd(width)}  ${text}`
  return [
    `Usage: ${usageOf(c)}`,
    "",
    c.summary,
    ...(c.details !== undefined ? ["", ...c.details] : []),
    "",
    "Options:",
    ...c.flags.map((f) => option(left(f), `${f.description}${f.default !== undefined ? ` (default: ${f.default})` : ""}`)),
    option("-h, --help", "show this help"),
    "",
    c.examples.length === 1 ? "Example:" : "Examples:",
    ...c.examples.map((e) => `  ${e}`),
    "",
  ].join("\n")
}

/** A group's help: its commands, one line each. */
const renderGroup = (path: string): string => {
  const below = commands.filter((c) => (path === "" ? true : c.path.startsWith(`${path} `)))
  const name = (c: CommandHelp) => (path === "" ? c.path : c.path.slice(path.length + 1))
  const width = Math.max(...below.map((c) => name(c).length))
  return [
    `Usage: meetzone ${path === "" ? "" : `${path} `}COMMAND [options]`,
    "",
    groups[path]!,
    "",
    "Commands:",
    ...below.map((c) => `  ${name(c).padEnd(width)}  ${c.summary}`),
    "",
    `Each command's own help: meetzone ${path === "" ? "" : `${path} `}COMMAND --help`,
    ...(path === "" ? ["Logs: MEETZONE_LOG_LEVEL (debug | info | warning | error | none), MEETZONE_LOG_FORMAT (pretty | json), on stderr."] : []),
    "",
  ].join("\n")
}

/**
 * The help `argv` (after the program) asks for — with `--help`/`-h`, or a
 * group named alone — else none.
 *
 * @category help
 */
export const requested = (argv: ReadonlyArray<string>): string | undefined => {
  const words = argv.filter((a) => !a.startsWith("-"))
  const asked = argv.includes("--help") || argv.includes("-h")
  for (let n = Math.min(2, words.length); n >= 1; n--) {
    const path = words.slice(0, n).join(" ")
    const command = commands.find((c) => c.path === path)
    if (command !== undefined) return asked ? render(command) : undefined
    if (groups[path] !== undefined && (asked || n === words.length)) return renderGroup(path)
  }
  return asked || argv.length === 0 ? renderGroup("") : undefined
}
