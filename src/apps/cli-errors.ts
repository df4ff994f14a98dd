/**
 * Every failure that reaches the command line, as one line: what is wrong
 * and, where it is one of the usual mistakes, what to do. Exit status 1 for
 * all of them (a join that reached nothing but the web client exits 2, and
 * `meetzone doctor` says 2 or 1 by its verdict — README, "Exit status").
 *
 * @since 0.3.0
 */
import { Data } from "effect"
import { Lookup } from "../index.js"

/** A mistake in what the command was given. @category errors */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

interface NodeLike {
  readonly message?: unknown
  readonly code?: unknown
  readonly cause?: unknown
  readonly input?: unknown
  readonly path?: unknown
  readonly port?: unknown
  readonly address?: unknown
  readonly syscall?: unknown
}

/** The error and what caused it, outermost first (bounded). */
const chain = (e: unknown): ReadonlyArray<NodeLike> => {
  const out: Array<NodeLike> = []
  for (let at: unknown = e; typeof at === "object" && at !== null && out.length < 6; at = (at as NodeLike).cause) out.push(at as NodeLike)
  return out
}

const text = (x: unknown) => (typeof x === "string" ? x : undefined)

/** @category describing */
export const describe = (e: unknown): string => {
  const all = chain(e)
  const busy = all.find((x) => x.code === "EADDRINUSE")
  if (busy !== undefined) {
    const where = busy.port !== undefined ? `port ${String(busy.port)}${text(busy.address) !== undefined ? ` on ${text(busy.address)}` : ""}` : "a port"
    return `${where} is already in use (another meetzone up?): stop what holds it, or give another port in the config (0: any free port)`
  }
  const denied = all.find((x) => x.code === "EACCES" && x.syscall === "listen")
  if (denied !== undefined) return `port ${String(denied.port)}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`
  const url = all.find((x) => x.code === "ERR_INVALID_URL")
  if (url !== undefined) {
    const input = text(url.input) ?? "?"
    return `${input}: ${Lookup.webUrlProblem(input) ?? "not a URL"}`
  }
  const missing = all.find((x) => x.code === "ENOENT" && text(x.path) !== undefined)
  if (missing !== undefined) return `${text(missing.path)}: no such file`
  const first = all.map((x) => text(x.message)).find((m) => m !== undefined && m !== "") ?? String(e)
  if (/cannot connect to nats:\/\//.test(first)) return `${first} (is a nats-server running there? Without --nats, \`meetzone up\` starts its own)`
  return first
}
