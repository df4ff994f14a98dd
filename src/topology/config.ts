/**
 * The deployment's configuration: one YAML or JSON file describing NATS,
 * zones with their controllers and MMRs, tunnels, and the web lookup. Decoded
 * with Schema before anything starts: a bad field is reported with its path
 * and what was expected.
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import { Data, Duration, Effect, Either, Option, ParseResult, Schema } from "effect"
import { parse as parseYaml } from "yaml"
import { Token } from "../protocol/subjects.js"
import * as EnvOverrides from "./env-overrides.js"
import * as MmrWorkers from "./mmr-workers.js"
import { GeoPoint } from "../protocol/zone.js"

/** A duration written as text: "500 millis", "5.5 seconds", "1 minute". @category schemas */
export const DurationText = Schema.String.pipe(
  Schema.filter((s) => Option.isSome(Duration.decodeUnknown(s)) || "a duration such as \"500 millis\" or \"5.5 seconds\""),
) as unknown as Schema.Schema<Duration.DurationInput, string>

const Port = Schema.Int.pipe(Schema.between(0, 65535))
const Host = Schema.String.pipe(Schema.minLength(1))

const TlsFiles = Schema.Struct({ certFile: Schema.String, keyFile: Schema.String })

/** `nats`: the servers actors connect to, what clients are told, credentials, bucket replicas. @category schemas */
export const NatsSection = Schema.Struct({
  /** Servers the actors connect to; absent → `up` starts its own nats-server. */
  servers: Schema.optional(Schema.Array(Schema.String).pipe(Schema.minItems(1))),
  /** What clients are told to connect to; default the servers. */
  clientUrls: Schema.optional(Schema.Array(Schema.String)),
  user: Schema.optional(Schema.String),
  pass: Schema.optional(Schema.String),
  token: Schema.optional(Schema.String),
  credsFile: Schema.optional(Schema.String),
  /**
   * A directory from `meetzone nats-auth init`: each actor connects with its
   * own identity from it, and the web lookups give each join one of its own.
   */
  credsDir: Schema.optional(Schema.String),
  tls: Schema.optional(
    Schema.Struct({ caFile: Schema.optional(Schema.String), certFile: Schema.optional(Schema.String), keyFile: Schema.optional(Schema.String) }),
  ),
  /** JetStream replicas of every bucket (3 on a 3-node cluster). */
  replicas: Schema.optionalWith(Schema.Literal(1, 3, 5), { default: () => 1 as const }),
})

/** `zones[].mmrs[]`: one MMR — capacity, bind and advertised hosts, media ports. @category schemas */
export const MmrSection = Schema.Struct({
  id: Token,
  capacity: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 100 }),
  /** Where its media listeners bind. */
  bindHost: Schema.optionalWith(Host, { default: () => "127.0.0.1" }),
  /** What clients are told to dial; default the bind host. */
  advertiseHost: Schema.optional(Host),
  /** UDP and TCP media (8801 in production; 0 = any free port). */
  mediaPort: Schema.optionalWith(Port, { default: () => 0 }),
  /** TLS media (443 in production; 0 = any free port). */
  tlsPort: Schema.optionalWith(Port, { default: () => 0 }),
  /**
   * Media workers on this host: one MMR process per core, meetings sharded
   * across them by placement ("auto": one per core of the host that starts
   * it). Worker n (from 1) is MMR `<id>-w<n>` on mediaPort + n - 1 and
   * tlsPort + n - 1, each with this capacity. 1: the MMR is `<id>` alone.
   */
  workers: Schema.optionalWith(Schema.Union(Schema.Int.pipe(Schema.between(1, 128)), Schema.Literal("auto")), { default: () => 1 }),
})

/** `zones[]`: one meeting zone — where it is, its controllers and MMRs. @category schemas */
export const ZoneSection = Schema.Struct({
  id: Token,
  name: Schema.optional(Schema.String),
  location: GeoPoint,
  /** NATS endpoints clients use for this zone; default nats.clientUrls. */
  nats: Schema.optional(Schema.Array(Schema.String)),
  controllers: Schema.Array(Schema.Struct({ id: Token })).pipe(Schema.minItems(1)),
  mmrs: Schema.Array(MmrSection).pipe(Schema.minItems(1)),
})

const Limit = Schema.Struct({ perMinute: Schema.Number.pipe(Schema.positive()), burst: Schema.Int.pipe(Schema.positive()) })

/** `web[].limits`: how often one client address may ask. @category schemas */
export const Limits = Schema.Struct({
  createMeeting: Schema.optionalWith(Limit, { default: () => ({ perMinute: 60, burst: 20 }) }),
  joinInfo: Schema.optionalWith(Limit, { default: () => ({ perMinute: 600, burst: 100 }) }),
  /** Wrong passcodes per address (each guess costs the server one scrypt). */
  passcodeGuesses: Schema.optionalWith(Limit, { default: () => ({ perMinute: 10, burst: 5 }) }),
  /** Wrong passcodes per meeting, from all addresses together. */
  passcodeGuessesPerMeeting: Schema.optionalWith(Limit, { default: () => ({ perMinute: 30, burst: 10 }) }),
})

/** `web[]`: one web lookup — HTTPS address, certificate, trusted proxies, dashboard token. @category schemas */
export const WebSection = Schema.Struct({
  id: Token,
  host: Schema.optionalWith(Host, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Port, { default: () => 8443 }),
  publicUrl: Schema.optional(Schema.String),
  tls: Schema.optional(TlsFiles),
  /** Peers whose X-Forwarded-For is believed (proxy-addr syntax: CIDRs, "loopback"…). */
  trustedProxies: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** Bearer token for the operators' dashboard (/ops); without it the dashboard is off. */
  opsToken: Schema.optional(Schema.String.pipe(Schema.minLength(16))),
  /** Per client address (after trusted proxies); passcode guesses also per meeting. Over the limit: 429 with Retry-After. */
  limits: Schema.optionalWith(Limits, { default: () => Limits.make({}) }),
})

/** `geo`: the Geo-IP database and the operator CIDR map that wins over it. @category schemas */
export const GeoSection = Schema.Struct({
  /** A MaxMind-format City database (.mmdb). */
  database: Schema.optional(Schema.String),
  /** Operator map: networks → locations; wins over the database. */
  cidr: Schema.optionalWith(
    Schema.Array(Schema.Struct({ cidr: Schema.String, location: GeoPoint, label: Schema.optional(Schema.String) })),
    { default: () => [] },
  ),
})

/** `timing`: TTLs, report interval, the zone timeout (5.5 s) and the drain grace. @category schemas */
export const TimingSection = Schema.Struct({
  /** Presence records live this long without renewal. */
  presenceTtl: Schema.optionalWith(DurationText, { default: () => "3 seconds" }),
  /** MMR load reports and presence renewals. */
  reportInterval: Schema.optionalWith(DurationText, { default: () => "1 second" }),
  /** An MMR silent this long gets no new meetings. */
  mmrTtl: Schema.optionalWith(DurationText, { default: () => "3 seconds" }),
  joinTokenTtl: Schema.optionalWith(DurationText, { default: () => "5 minutes" }),
  /** No controller answer within this → tunnel. */
  zoneTimeout: Schema.optionalWith(DurationText, { default: () => "5.5 seconds" }),
  /** How long a stopping MMR waits for its participants to move to another MMR. */
  drainGrace: Schema.optionalWith(DurationText, { default: () => "5 seconds" }),
  /** A participant its MMR has not heard from on control this long, with no media open, is gone (it vanished). */
  participantTtl: Schema.optionalWith(DurationText, { default: () => "15 seconds" }),
  /** How long a participant's report that its MMR is mute counts toward the quorum that moves the meeting. */
  muteWindow: Schema.optionalWith(DurationText, { default: () => "5 seconds" }),
  /** A crashed MMR worker is started again after this, doubling while it keeps crashing (to 30 s). */
  workerRestart: Schema.optionalWith(DurationText, { default: () => "1 second" }),
  /** An MMR worker that sends its supervisor no heartbeat for this long is frozen: killed and started again. */
  workerStall: Schema.optionalWith(DurationText, { default: () => "10 seconds" }),
})

/** `tunnels[]`: one HTTP tunnel — TLS address and what clients dial. @category schemas */
export const TunnelSection = Schema.Struct({
  id: Token,
  host: Schema.optionalWith(Host, { default: () => "127.0.0.1" }),
  /** 443 in production; 0 = any free port. */
  port: Schema.optionalWith(Port, { default: () => 0 }),
  /** What clients dial; default wss://<host>:<port>/tunnel. */
  publicUrl: Schema.optional(Schema.String),
  tls: Schema.optional(TlsFiles),
})

const Dscp = Schema.Int.pipe(Schema.between(0, 63))

/** `media`: DSCP marks per kind and the silence timeout. @category schemas */
export const MediaSection = Schema.Struct({
  /** DSCP per kind; defaults audio 46 (EF), video 34 (AF41), content 26 (AF31). */
  dscp: Schema.optionalWith(
    Schema.Struct({ audio: Schema.optional(Dscp), video: Schema.optional(Dscp), content: Schema.optional(Dscp) }),
    { default: () => ({}) },
  ),
  /** A media connection silent this long is closed. */
  silence: Schema.optionalWith(DurationText, { default: () => "3 seconds" }),
  /** Between the MMR's RTCP receiver reports to each media connection (RFC 3550, randomised 0.5–1.5×). */
  rtcpInterval: Schema.optionalWith(DurationText, { default: () => "1 second" }),
  /** Per participant and kind, each second, at the MMR: more is dropped and counted. */
  maxPacketsPerSecond: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 2000 }),
  maxBytesPerSecond: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4_000_000 }),
  /**
   * SRTP (AEAD AES-256-GCM) with keys from the web tier: on by default. `false`
   * sends media in the clear (a deployment whose clients cannot do SRTP).
   */
  encryption: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** A meeting with people in it moves to a new key epoch this often (and whenever someone leaves). */
  rekeyEvery: Schema.optionalWith(DurationText, { default: () => "15 minutes" }),
  /** Senders wait this long before using a new epoch, so that every receiver holds it first. */
  rekeyActivation: Schema.optionalWith(DurationText, { default: () => "1 second" }),
})

/** `metrics`: where each process serves /metrics. @category schemas */
export const MetricsSection = Schema.Struct({
  host: Schema.optionalWith(Host, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Port, { default: () => 0 }),
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
})

/** `tracing`: OTLP/HTTP export of spans. @category schemas */
export const TracingSection = Schema.Struct({
  /** e.g. http://collector:4318/v1/traces */
  otlpEndpoint: Schema.String.pipe(Schema.pattern(/^https?:\/\//, { message: () => "an http(s):// URL" })),
  serviceName: Schema.optionalWith(Schema.String, { default: () => "meetzone" }),
})

/** @category schemas */
export const Config = Schema.Struct({
  /** Subject and bucket prefix. */
  prefix: Schema.optionalWith(Token, { default: () => "mz" }),
  nats: Schema.optionalWith(NatsSection, { default: () => ({ replicas: 1 as const }) }),
  /** Shared by web lookup, controllers and MMRs; at least 32 characters. Absent: generated (single process only). */
  tokenSecret: Schema.optional(Schema.String.pipe(Schema.minLength(32))),
  timing: Schema.optionalWith(TimingSection, {
    default: () => ({
      presenceTtl: "3 seconds",
      reportInterval: "1 second",
      mmrTtl: "3 seconds",
      joinTokenTtl: "5 minutes",
      zoneTimeout: "5.5 seconds",
      drainGrace: "5 seconds",
      participantTtl: "15 seconds",
      muteWindow: "5 seconds",
      workerRestart: "1 second",
      workerStall: "10 seconds",
    }),
  }),
  web: Schema.Array(WebSection).pipe(Schema.minItems(1)),
  geo: Schema.optionalWith(GeoSection, { default: () => ({ cidr: [] }) }),
  media: Schema.optionalWith(MediaSection, { default: () => ({ dscp: {}, silence: "3 seconds", rtcpInterval: "1 second", maxPacketsPerSecond: 2000, maxBytesPerSecond: 4_000_000, encryption: true, rekeyEvery: "15 minutes", rekeyActivation: "1 second" }) }),
  zones: Schema.Array(ZoneSection).pipe(Schema.minItems(1)),
  /** HTTP tunnels, for clients that reach nothing but HTTPS. */
  tunnels: Schema.optionalWith(Schema.Array(TunnelSection), { default: () => [] }),
  /**
   * A development CA on disk (`meetzone dev-ca`): actors without certificate
   * files issue theirs from it, so clients of a multi-process deployment trust
   * one CA file. Absent: each process makes its own.
   */
  devCa: Schema.optional(TlsFiles),
  /** Where each process serves Prometheus text (/metrics); port 0 = any free port. */
  metrics: Schema.optionalWith(MetricsSection, { default: () => ({ host: "127.0.0.1", port: 0, enabled: true }) }),
  /** OpenTelemetry trace export (OTLP over HTTP); absent: spans stay in-process. */
  tracing: Schema.optional(TracingSection),
})
export type Config = typeof Config.Type
/** A configuration as written (defaults may be left out): what `Topology.launch` takes. @category models */
export type ConfigInput = typeof Config.Encoded

/** @category errors */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly source: string
  readonly problems: ReadonlyArray<{ readonly path: string; readonly message: string }>
}> {
  override get message(): string {
    return `invalid configuration in ${this.source}:\n${this.problems.map((p) => `  ${p.path || "(root)"}: ${p.message}`).join("\n")}`
  }
}

const uniqueIds = (config: Config): ReadonlyArray<{ path: string; message: string }> => {
  const problems: Array<{ path: string; message: string }> = []
  const seen = new Map<string, string>()
  const claim = (kind: string, scope: string, id: string, path: string) => {
    const other = seen.get(`${kind}:${scope}:${id}`)
    if (other !== undefined) problems.push({ path, message: `${kind} id "${id}" is already used at ${other}` })
    else seen.set(`${kind}:${scope}:${id}`, path)
  }
  config.zones.forEach((z, i) => {
    claim("zone", "", z.id, `zones.${i}.id`)
    z.controllers.forEach((c, j) => claim("controller", z.id, c.id, `zones.${i}.controllers.${j}.id`))
    // MMR ids name subjects (mz.mmr.<id>), so they are unique across zones; a worker's id too.
    z.mmrs.forEach((m, j) => {
      for (const w of MmrWorkers.of(m)) claim("MMR", "", w.id, w.id === m.id ? `zones.${i}.mmrs.${j}.id` : `zones.${i}.mmrs.${j} (worker ${w.id})`)
    })
  })
  config.web.forEach((w, i) => claim("web", "", w.id, `web.${i}.id`))
  config.tunnels.forEach((t, i) => claim("tunnel", "", t.id, `tunnels.${i}.id`))
  return problems
}

/**
 * One line per problem. An optional field with a default fails twice (as its
 * type and as "undefined"); the second says nothing useful and is dropped.
 */
const explain = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>) => {
  const problems = issues.map((p) => ({ path: p.path.join("."), message: p.message }))
  return problems.filter(
    (p) => !(p.message.startsWith("Expected undefined") && problems.some((q) => q.path === p.path && q !== p)),
  )
}

/**
 * Decodes a configuration from plain data.
 *
 * @category decoding
 */
export const decode = (input: unknown, source = "configuration"): Either.Either<Config, ConfigError> =>
  Either.flatMap(
    Either.mapLeft(Schema.decodeUnknownEither(Config, { errors: "all", onExcessProperty: "error" })(input), (e) =>
      new ConfigError({ source, problems: explain(ParseResult.ArrayFormatter.formatErrorSync(e)) }),
    ),
    (config) => {
      const problems = [...uniqueIds(config), ...MmrWorkers.problems(config)]
      return problems.length === 0 ? Either.right(config) : Either.left(new ConfigError({ source, problems }))
    },
  )

/**
 * Reads and decodes a YAML or JSON file.
 *
 * @category decoding
 */
export const load = (
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Effect.Effect<Config, ConfigError> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) => new ConfigError({ source: path, problems: [{ path: "", message: `cannot read: ${String(e)}` }] }),
    })
    const data = yield* Effect.try({
      try: () => parseYaml(text) as unknown,
      catch: (e) => new ConfigError({ source: path, problems: [{ path: "", message: `not YAML or JSON: ${String(e)}` }] }),
    })
    const overridden = EnvOverrides.apply(Config.ast, data, env)
    if (Either.isLeft(overridden)) {
      return yield* new ConfigError({
        source: `the environment (over ${path})`,
        problems: overridden.left.map((p) => ({ path: p.variable, message: p.message })),
      })
    }
    const { applied } = overridden.right
    return yield* Either.mapLeft(decode(overridden.right.data, path), (e) =>
      applied.length === 0
        ? e
        : new ConfigError({
            source: e.source,
            // A bad value that came from a variable says so.
            problems: e.problems.map((p) => {
              const from = applied.find((a) => p.path === a.path || p.path.startsWith(`${a.path}.`))
              return from === undefined ? p : { ...p, message: `${p.message} (set by ${from.variable})` }
            }),
          }),
    )
  })

/**
 * The topology `up` runs without a file: 2 zones × 2 controllers × 2 MMRs and
 * one web lookup, all on loopback.
 *
 * @category defaults
 */
export const defaultTopology: ConfigInput = {
  web: [{ id: "web-1", port: 0, trustedProxies: ["loopback"] }],
  zones: [
    {
      id: "eu-west",
      name: "Europe West (Dublin)",
      location: { lat: 53.35, lon: -6.26 },
      controllers: [{ id: "c1" }, { id: "c2" }],
      mmrs: [{ id: "eu-mmr-1" }, { id: "eu-mmr-2" }],
    },
    {
      id: "us-east",
      name: "US East (Virginia)",
      location: { lat: 38.9, lon: -77.04 },
      controllers: [{ id: "c1" }, { id: "c2" }],
      mmrs: [{ id: "us-mmr-1" }, { id: "us-mmr-2" }],
    },
  ],
  tunnels: [{ id: "tunnel-1" }, { id: "tunnel-2" }],
}
