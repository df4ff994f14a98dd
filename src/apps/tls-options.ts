/**
 * The TLS trust options every client-side command takes.
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { Lookup } from "../index.js"
import { UsageError } from "./cli-errors.js"
import * as DevMode from "./dev-mode.js"

export const caOption = Options.file("ca").pipe(
  Options.withDescription("PEM CA certificate to trust (e.g. the one `meetzone up` prints); default MEETZONE_CA, else the dev CA"),
  Options.optional,
)
export const insecureOption = Options.boolean("insecure").pipe(
  Options.withDescription("do not verify TLS certificates (development only)"),
)

/** @category options */
export const trust = (given: Option.Option<string>, insecure: boolean): Effect.Effect<Lookup.TlsTrust, UsageError> =>
  Option.match(Option.orElse(given, () => Option.fromNullable(DevMode.ca())), {
    onNone: () => Effect.succeed({ insecure }),
    onSome: (path) =>
      Effect.tryPromise({
        try: () => readFile(path, "utf8"),
        catch: (e) => new UsageError({ message: `--ca ${path}: ${(e as { code?: string }).code === "ENOENT" ? "no such file (`meetzone up` prints the CA's path)" : (e as Error).message}` }),
      }).pipe(
        Effect.filterOrFail(
          (pem) => pem.includes("-----BEGIN CERTIFICATE-----"),
          () => new UsageError({ message: `--ca ${path}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)` }),
        ),
        Effect.map((pem) => ({ ca: pem, insecure })),
      ),
  })

/**
 * `--web`: an http(s) URL; a missing scheme is the usual slip, and the
 * message says what to write instead.
 *
 * @category options
 */
export const webUrl = (given: Option.Option<string>): Effect.Effect<string, UsageError> => {
  const raw = Option.getOrElse(given, DevMode.web)
  const problem = Lookup.webUrlProblem(raw)
  return problem === undefined ? Effect.succeed(raw) : Effect.fail(new UsageError({ message: `${Option.isSome(given) ? "--web" : "MEETZONE_WEB"} ${raw}: ${problem}` }))
}
