/**
 * Logs go to stderr — stdout belongs to a command's output (`--json` must stay
 * parseable) — as readable lines or as JSON objects (one per line, with the
 * annotations actors add: actor, zone, mmr, controller, tunnel, web, meeting,
 * participant, correlation), at a level from the environment, else the
 * command's default: MEETZONE_LOG_FORMAT (pretty | json),
 * MEETZONE_LOG_LEVEL (debug | info | warning | error | none).
 *
 * @since 0.1.0
 */
import type { Layer } from "effect"
import { Layer as L, Logger, LogLevel } from "effect"

const levels: Record<string, LogLevel.LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None,
}

/** @category layers */
export const layer = (defaults: {
  readonly level: "debug" | "info" | "warning" | "error" | "none"
  readonly format?: "pretty" | "json"
}): Layer.Layer<never> => {
  const level = levels[(process.env["MEETZONE_LOG_LEVEL"] ?? defaults.level).toLowerCase()] ?? levels[defaults.level]!
  const json = (process.env["MEETZONE_LOG_FORMAT"] ?? defaults.format ?? "pretty").toLowerCase() === "json"
  return L.merge(
    Logger.replace(Logger.defaultLogger, json ? Logger.withConsoleError(Logger.jsonLogger) : Logger.prettyLogger({ stderr: true })),
    Logger.minimumLogLevel(level),
  )
}
