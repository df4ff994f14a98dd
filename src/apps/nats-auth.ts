/**
 * `meetzone nats-auth init --config FILE --out DIR`: NATS identities for a
 * deployment whose operators run their own NATS — the operator, the
 * account and its two signing keys (kept in DIR/secrets.json), the server's
 * configuration to include, and one credentials file per actor of the
 * configuration. Run it again after adding an actor: the trust is reused.
 *
 * @since 0.1.0
 */
import { join as joinPath } from "node:path"
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { Config, NatsIdentities, Protocol, Topology } from "../index.js"

const init = Command.make(
  "init",
  {
    config: Options.file("config").pipe(Options.withDescription("the deployment's configuration (its actors get an identity each)")),
    out: Options.directory("out").pipe(Options.withDescription("folder for the secrets, the server configuration and the credentials (created if missing)")),
  },
  ({ config: path, out }) =>
    Effect.gen(function* () {
      const config = yield* Config.load(path)
      const written = yield* NatsIdentities.writeDirectory(
        out,
        Topology.actorsOf(config),
        Protocol.Subjects.make(config.prefix),
        Protocol.Subjects.buckets(config.prefix),
      )
      yield* Console.log(
        [
          `wrote ${written.length} files to ${out}:`,
          `  secrets.json                  every seed (mode 600): keep it offline; give no process a copy`,
          `  nats-server.conf              include it in each nats-server's configuration (operator mode, memory resolver)`,
          ...written.filter((f) => f.endsWith(".creds")).map((f) => `  ${f.padEnd(30)}this actor's identity only`),
          `  client-signer.json            the web lookups' key for each join's identity (web hosts only)`,
          `in the configuration:          nats: { credsDir: ${out} }`,
          `in nats-server.conf:           include ${joinPath(out, "nats-server.conf")}`,
        ].join("\n"),
      )
    }),
).pipe(Command.withDescription("Write the NATS identities (operator, account, one per actor) of a deployment to a folder."))

export const natsAuth = Command.make("nats-auth").pipe(
  Command.withDescription("NATS decentralized auth for deployments that run their own NATS."),
  Command.withSubcommands([init]),
)
