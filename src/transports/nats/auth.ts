/**
 * NATS decentralized auth for a deployment: one operator, one account that
 * holds meetzone's subjects, and two signing keys of that account — one for
 * the actors' identities (kept by operators), one the web lookup holds to
 * issue each join its own short-lived client identity. Users are JWTs with
 * allow lists (`permissions.ts`), signed with Ed25519 nkeys (`@nats-io/jwt`,
 * `@nats-io/nkeys`: the maintained libraries of the NATS authors).
 *
 * The server runs in operator mode with a memory resolver, which
 * nats-server 2.9 (Debian's) has: no auth callout (2.10) is needed.
 *
 * @since 0.1.0
 */
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt"
import { createAccount, createOperator } from "@nats-io/nkeys"
import { Data, Effect } from "effect"
import type { Permissions } from "../../protocol/permissions.js"
import * as Ed25519 from "./ed25519.js"

/** @category errors */
export class AuthError extends Data.TaggedError("AuthError")<{ readonly detail: string }> {
  override get message(): string {
    return `NATS auth: ${this.detail}`
  }
}

/** The secrets of a deployment's NATS identities: nkey seeds (text, `S…`). Keep them out of logs and repositories. @category models */
export interface Secrets {
  readonly operator: string
  /** The server's own account (JetStream needs one in operator mode); no user of ours connects to it. */
  readonly system: string
  readonly account: string
  /** Signs the actors' users. Operators keep it. */
  readonly actorSigner: string
  /** Signs clients' users, one per join. The web lookup holds it, and nothing else. */
  readonly clientSigner: string
}

/** What the server must be told (public). @category models */
export interface Trust {
  readonly operatorJwt: string
  readonly accountJwt: string
  readonly accountPublicKey: string
  readonly systemJwt: string
  readonly systemPublicKey: string
}

const seedText = (kp: { getSeed(): Uint8Array }) => new TextDecoder().decode(kp.getSeed())
/** Key pairs by seed, made once: a signer signs every join. */
const keys = new Map<string, ReturnType<typeof Ed25519.fromNkeysSeed>>()
const keyOf = (seed: string) =>
  Effect.try({
    try: () => {
      let key = keys.get(seed)
      if (key === undefined) {
        key = Ed25519.fromNkeysSeed(new TextEncoder().encode(seed))
        key.getPublicKey() // derived once, here
        if (keys.size < 64) keys.set(seed, key)
      }
      return key
    },
    catch: (e) => new AuthError({ detail: `bad seed: ${String(e)}` }),
  })

/**
 * New identities for a deployment.
 *
 * @category constructors
 */
export const generate = (): Secrets => ({
  operator: seedText(createOperator()),
  system: seedText(createAccount()),
  account: seedText(createAccount()),
  actorSigner: seedText(createAccount()),
  clientSigner: seedText(createAccount()),
})

/**
 * The operator's and the account's JWTs. The account may use JetStream
 * without limits (the buckets' own settings bound them) and lists both
 * signing keys; a client connection gets at most `clientSubscriptions`
 * subscriptions and `clientPayload` bytes per message.
 *
 * @category constructors
 */
export const trust = (secrets: Secrets): Effect.Effect<Trust, AuthError> =>
  Effect.gen(function* () {
    const operator = yield* keyOf(secrets.operator)
    const system = yield* keyOf(secrets.system)
    const account = yield* keyOf(secrets.account)
    const signers = yield* Effect.all([keyOf(secrets.actorSigner), keyOf(secrets.clientSigner)])
    const operatorJwt = yield* Effect.tryPromise({
      try: () => encodeOperator("meetzone", operator, { system_account: system.getPublicKey() }),
      catch: (e) => new AuthError({ detail: String(e) }),
    })
    const accountJwt = yield* Effect.tryPromise({
      try: () =>
        encodeAccount(
          "meetzone",
          account,
          {
            limits: { subs: -1, data: -1, payload: -1, conn: -1, imports: -1, exports: -1, wildcards: true, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
            signing_keys: signers.map((k) => k.getPublicKey()),
          },
          { signer: operator },
        ),
      catch: (e) => new AuthError({ detail: String(e) }),
    })
    const systemJwt = yield* Effect.tryPromise({
      try: () => encodeAccount("SYS", system, {}, { signer: operator }),
      catch: (e) => new AuthError({ detail: String(e) }),
    })
    return { operatorJwt, accountJwt, accountPublicKey: account.getPublicKey(), systemJwt, systemPublicKey: system.getPublicKey() }
  })

/**
 * The lines of a nats-server configuration that turn this trust on:
 * operator mode, the account preloaded in a memory resolver. Anonymous
 * connections are refused.
 *
 * @category server
 */
export const serverConfig = (t: Trust): ReadonlyArray<string> => [
  `operator: "${t.operatorJwt}"`,
  `system_account: ${t.systemPublicKey}`,
  `resolver: MEMORY`,
  `resolver_preload: {`,
  `  ${t.accountPublicKey}: "${t.accountJwt}"`,
  `  ${t.systemPublicKey}: "${t.systemJwt}"`,
  `}`,
]

/** @category models */
export interface UserOptions {
  /** Shown by the server's monitoring (`connz`) and in its logs. */
  readonly name: string
  /** What it may publish and subscribe to (`Permissions.forActor` / `forClient`). */
  readonly permissions: Permissions
  /** Epoch seconds; the server disconnects the user then, and refuses it after. */
  readonly expiresAt?: number
  /** At most this many subscriptions at once (the server refuses more). */
  readonly maxSubscriptions?: number
  /** At most this many bytes in one message. */
  readonly maxPayload?: number
}

/**
 * What signs users: one of the account's signing keys, and the account it
 * signs for. The web lookup holds the client signer, and nothing else.
 *
 * @category models
 */
export interface Signer {
  readonly accountPublicKey: string
  readonly seed: string
}

/** The actor or the client signer of a deployment. @category users */
export const signer = (secrets: Secrets, which: "actor" | "client"): Effect.Effect<Signer, AuthError> =>
  Effect.map(keyOf(secrets.account), (account) => ({
    accountPublicKey: account.getPublicKey(),
    seed: which === "actor" ? secrets.actorSigner : secrets.clientSigner,
  }))

/**
 * A `.creds` file's text (user JWT and its nkey seed) for a new user signed
 * by `by` (the actor or the client signer).
 *
 * @category users
 */
export const userCreds = (by: Signer, options: UserOptions): Effect.Effect<string, AuthError> =>
  Effect.gen(function* () {
    const signingKey = yield* keyOf(by.seed)
    const user = Ed25519.newUser()
    const p = options.permissions
    const jwt = yield* Effect.tryPromise({
      try: () =>
        encodeUser(
          options.name,
          user,
          signingKey,
          {
            issuer_account: by.accountPublicKey,
            pub: { allow: [...p.publish] },
            sub: { allow: [...p.subscribe] },
            ...(p.respond ? { resp: { max: 1, ttl: 0 } } : {}),
            subs: options.maxSubscriptions ?? -1,
            payload: options.maxPayload ?? -1,
            data: -1,
          },
          options.expiresAt !== undefined ? { exp: options.expiresAt } : {},
        ),
      catch: (e) => new AuthError({ detail: String(e) }),
    })
    return new TextDecoder().decode(fmtCreds(jwt, user))
  })
