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
import { HashMap, Layer as L, Logger, LogLevel } from "effect"

const levels: Record<string, LogLevel.LogLevel> = {
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None,
}

/**
 * One readable line per entry, written to stderr itself: Effect's pretty
 * logger prints annotations with console.group, which writes to stdout.
 */
const readable = Logger.make(({ annotations, date, logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")
  const notes = [...HashMap.toEntries(annotations)].map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
  const time = date.toISOString().slice(11, 23)
  process.stderr.write(`[${time}] ${logLevel.label} ${text}${notes.length > 0 ? `  ${notes.join(" ")}` : ""}\n`)
})

/** @category layers */
export const layer = (defaults: {
  readonly level: "debug" | "info" | "warning" | "error" | "none"
  readonly format?: "pretty" | "json"
}): Layer.Layer<never> => {
  const level = levels[(process.env["MEETZONE_LOG_LEVEL"] ?? defaults.level).toLowerCase()] ?? levels[defaults.level]!
  const json = (process.env["MEETZONE_LOG_FORMAT"] ?? defaults.format ?? "pretty").toLowerCase() === "json"
  return L.merge(
    Logger.replace(Logger.defaultLogger, json ? Logger.withConsoleError(Logger.jsonLogger) : readable),
    Logger.minimumLogLevel(level),
  )
}
