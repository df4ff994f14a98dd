/**
 * The NATS identities of a deployment with auth on: each actor's (a `.creds`
 * file per actor, its permissions baked in), and the client signer the web
 * lookup makes each join's identity with. Made on the fly from a
 * deployment's secrets (`meetzone up` on its own nats-server), or read from a
 * directory that `meetzone nats-auth init` wrote (separate processes and
 * hosts, a NATS cluster the operators run).
 *
 *   <dir>/secrets.json             every seed: keep it offline (mode 600); init reuses it
 *   <dir>/nats-server.conf         the server's side: operator, accounts, memory resolver (include it)
 *   <dir>/<role>-[<zone>-]<id>.creds  one per actor of the configuration
 *   <dir>/client-signer.json       the web lookups' signing key for joins (and nothing else)
 *
 * @since 0.1.0
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Layer, Schema } from "effect"
import * as Permissions from "../protocol/permissions.js"
import type { Buckets, Subjects } from "../protocol/subjects.js"
import type { ControlBus } from "../runtime/ControlBus.js"
import type { KeyValue } from "../runtime/KeyValue.js"
import * as Auth from "../transports/nats/auth.js"
import * as NatsBus from "../transports/nats/bus.js"
import * as NatsKv from "../transports/nats/kv.js"

/** One actor as the bus knows it. @category models */
export interface ActorIdentity {
  readonly role: Permissions.Role
  readonly id: string
  readonly zone?: string
}

/** @category models */
export interface Identities {
  readonly servers: ReadonlyArray<string>
  /** The `.creds` text of an actor's own identity. */
  readonly actorCreds: (actor: ActorIdentity) => Effect.Effect<string, Auth.AuthError>
  /** Makes each join's identity; undefined where no web lookup runs (it is the only holder). */
  readonly clientSigner: Auth.Signer | undefined
  /** The CA of the servers' certificates (PEM), when they take TLS only: actors trust it, and joins are told it. */
  readonly ca?: string
}

/** `web-web-1.creds`, `mmr-eu-west-eu-mmr-1.creds`. @category files */
export const credsFile = (actor: ActorIdentity): string => `${actor.role}-${actor.zone !== undefined ? `${actor.zone}-` : ""}${actor.id}.creds`

const permissionsOf = (subjects: Subjects, buckets: Buckets, actor: ActorIdentity) =>
  Permissions.forActor(subjects, buckets, actor.role, actor.id, actor.zone)

const nameOf = (actor: ActorIdentity) => `meetzone-${credsFile(actor).replace(/\.creds$/, "")}`

/**
 * Identities made from the secrets as they are asked for.
 *
 * @category constructors
 */
export const fromSecrets = (
  servers: ReadonlyArray<string>,
  secrets: Auth.Secrets,
  subjects: Subjects,
  buckets: Buckets,
  ca?: string,
): Effect.Effect<Identities, Auth.AuthError> =>
  Effect.map(Effect.all([Auth.signer(secrets, "actor"), Auth.signer(secrets, "client")]), ([actorSigner, clientSigner]) => ({
    servers,
    ...(ca !== undefined ? { ca } : {}),
    actorCreds: (actor) => Auth.userCreds(actorSigner, { name: nameOf(actor), permissions: permissionsOf(subjects, buckets, actor) }),
    clientSigner,
  }))

const failed = (detail: string) => new Auth.AuthError({ detail })
const SignerFile = Schema.parseJson(Schema.Struct({ accountPublicKey: Schema.String, seed: Schema.String }))
const SecretsFile = Schema.parseJson(
  Schema.Struct({ operator: Schema.String, system: Schema.String, account: Schema.String, actorSigner: Schema.String, clientSigner: Schema.String }),
)

/**
 * Identities from a directory `meetzone nats-auth init` wrote. An actor
 * whose file is missing is named in the error.
 *
 * @category constructors
 */
export const fromDirectory = (servers: ReadonlyArray<string>, dir: string, caFile?: string): Effect.Effect<Identities, Auth.AuthError> =>
  Effect.gen(function* () {
    const ca =
      caFile === undefined
        ? undefined
        : yield* Effect.tryPromise({ try: () => readFile(caFile, "utf8"), catch: (e) => failed(`cannot read the NATS CA ${caFile}: ${String(e)}`) })
    const signerText = yield* Effect.tryPromise({ try: () => readFile(join(dir, "client-signer.json"), "utf8"), catch: () => undefined }).pipe(
      Effect.orElseSucceed(() => undefined),
    )
    const clientSigner =
      signerText === undefined
        ? undefined
        : yield* Schema.decodeUnknown(SignerFile)(signerText).pipe(Effect.mapError((e) => failed(`${dir}/client-signer.json: ${e.message}`)))
    return {
      servers,
      ...(ca !== undefined ? { ca } : {}),
      actorCreds: (actor) =>
        Effect.tryPromise({
          try: () => readFile(join(dir, credsFile(actor)), "utf8"),
          catch: (e) => failed(`no identity for ${actor.role} ${actor.id} in ${dir} (${credsFile(actor)}): ${String(e)}; run meetzone nats-auth init again`),
        }),
      clientSigner,
    }
  })

/**
 * One actor's control plane over a connection of its own, with its own
 * identity: it can reach its own subjects and keys, nothing else.
 *
 * @category layers
 */
export const actorLayer = (identities: Identities, actor: ActorIdentity): Layer.Layer<ControlBus | KeyValue> =>
  Layer.unwrapEffect(
    Effect.map(identities.actorCreds(actor), (creds) =>
      NatsKv.layerFromConnection.pipe(
        Layer.provideMerge(
          NatsBus.layer({
            servers: identities.servers,
            name: nameOf(actor),
            creds,
            inboxPrefix: Permissions.inboxPrefix.actor(actor.role, actor.id),
            ...(identities.ca !== undefined ? { tls: { ca: identities.ca } } : {}),
          }),
        ),
        Layer.orDie,
      ),
    ).pipe(Effect.orDie),
  )

/**
 * What the web lookup hands each join: credentials for `scope` only,
 * expiring with the join, with a few subscriptions and small messages.
 *
 * @category credentials
 */
export const clientCredentials =
  (signer: Auth.Signer, subjects: Subjects) =>
  (scope: Permissions.ClientScope, expiresAt: number): Effect.Effect<string, Auth.AuthError> =>
    Auth.userCreds(signer, {
      name: `client-${scope.participant}`,
      permissions: Permissions.forClient(subjects, scope),
      expiresAt,
      maxSubscriptions: 16,
      maxPayload: 64 * 1024,
    })

/**
 * Writes a deployment's identities to `dir` for `actors` (reusing the secrets
 * already there, so a new actor gets an identity in the same trust). Returns
 * the files written.
 *
 * @category files
 */
export const writeDirectory = (
  dir: string,
  actors: ReadonlyArray<ActorIdentity>,
  subjects: Subjects,
  buckets: Buckets,
): Effect.Effect<ReadonlyArray<string>, Auth.AuthError> =>
  Effect.gen(function* () {
    const io = (what: string, run: () => Promise<unknown>) => Effect.tryPromise({ try: run, catch: (e) => failed(`${what}: ${String(e)}`) })
    yield* io(`cannot make ${dir}`, () => mkdir(dir, { recursive: true, mode: 0o700 }))
    const secretsPath = join(dir, "secrets.json")
    const existing = yield* Effect.tryPromise({ try: () => readFile(secretsPath, "utf8"), catch: () => undefined }).pipe(Effect.option)
    const secrets =
      existing._tag === "Some"
        ? yield* Schema.decodeUnknown(SecretsFile)(existing.value).pipe(Effect.mapError((e) => failed(`${secretsPath}: ${e.message}`)))
        : Auth.generate()
    const trust = yield* Auth.trust(secrets)
    const written: Array<string> = []
    const write = (name: string, text: string, mode = 0o600) =>
      Effect.zipRight(io(`cannot write ${name}`, () => writeFile(join(dir, name), text, { mode }).then(() => chmod(join(dir, name), mode))), Effect.sync(() => void written.push(name)))
    yield* write("secrets.json", JSON.stringify(secrets, null, 2) + "\n")
    yield* write("nats-server.conf", `# meetzone NATS auth (operator mode, memory resolver): include it in each server's configuration\n${Auth.serverConfig(trust).join("\n")}\n`, 0o644)
    const identities = yield* fromSecrets([], secrets, subjects, buckets)
    for (const actor of actors) yield* write(credsFile(actor), yield* identities.actorCreds(actor))
    yield* write("client-signer.json", JSON.stringify(identities.clientSigner) + "\n")
    return written
  })
