/**
 * Is the client behind an HTTP proxy for this URL? An explicit setting wins
 * (a URL, or "none"); otherwise HTTPS_PROXY / https_proxy (then ALL_PROXY),
 * unless NO_PROXY / no_proxy exempts the host. Pure: the environment is an
 * argument, so one process can run clients with different settings and the
 * rules can be tested without touching process.env (which is why this is not
 * proxy-from-env, which reads process.env itself).
 *
 * NO_PROXY entries, comma- or space-separated: `*` (everything), a host
 * (`example.com` also covers its subdomains), `.example.com` (subdomains
 * only), an IP address, a CIDR (`10.0.0.0/8`), any of them with `:port`.
 *
 * @since 0.1.0
 */
import ipaddr from "ipaddr.js"
import { Option } from "effect"

/** @category models */
export interface ProxySetting {
  /** The proxy, without credentials. */
  readonly url: string
  /** `Basic …` for Proxy-Authorization, when the URL carried user:password. */
  readonly authorization: string | undefined
  readonly source: "explicit" | "environment"
}

const read = (env: Readonly<Record<string, string | undefined>>, name: string): string | undefined => {
  const v = env[name.toLowerCase()] ?? env[name.toUpperCase()]
  return v === undefined || v.trim() === "" ? undefined : v.trim()
}

const stripBrackets = (host: string) => (host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host)

/** `host:port`, `[v6]:port`, or a bare host / IPv6 / CIDR without a port. */
const splitPort = (entry: string): readonly [string, string | undefined] => {
  if (entry.startsWith("[")) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
    return m === null ? [entry, undefined] : [m[1]!, m[2]]
  }
  const colon = entry.indexOf(":")
  return colon >= 0 && colon === entry.lastIndexOf(":") ? [entry.slice(0, colon), entry.slice(colon + 1)] : [entry, undefined]
}

const inCidr = (host: string, cidr: string): boolean => {
  try {
    const range = ipaddr.parseCIDR(cidr)
    const ip = ipaddr.process(host)
    return ip.kind() === range[0].kind() && ip.match(range as [ipaddr.IPv4, number] & [ipaddr.IPv6, number])
  } catch {
    return false // the host is a name, or the entry is not a CIDR
  }
}

/** Does NO_PROXY exempt `target`? @category rules */
export const exempt = (noProxy: string | undefined, target: URL): boolean => {
  if (noProxy === undefined) return false
  const host = stripBrackets(target.hostname).toLowerCase()
  const port = target.port !== "" ? target.port : target.protocol === "https:" ? "443" : "80"
  return noProxy
    .split(/[\s,]+/)
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== "")
    .some((entry) => {
      if (entry === "*") return true
      const [pattern, entryPort] = splitPort(entry)
      if (entryPort !== undefined && entryPort !== port) return false
      if (pattern.includes("/")) return inCidr(host, pattern)
      if (pattern.startsWith(".") || pattern.startsWith("*.")) return host.endsWith(`.${pattern.replace(/^\*?\./, "")}`)
      return host === pattern || host.endsWith(`.${pattern}`)
    })
}

const parse = (raw: string, source: ProxySetting["source"]): Option.Option<ProxySetting> => {
  let url: URL
  try {
    url = new URL(raw.includes("://") ? raw : `http://${raw}`)
  } catch {
    return Option.none()
  }
  const authorization =
    url.username !== "" || url.password !== ""
      ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`
      : undefined
  url.username = ""
  url.password = ""
  return Option.some({ url: url.toString().replace(/\/$/, ""), authorization, source })
}

/**
 * The proxy to use for `target`, if any.
 *
 * @param explicit a proxy URL, "none" to refuse the environment's, or undefined to consult it
 * @category rules
 */
export const detect = (
  target: URL,
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Option.Option<ProxySetting> => {
  if (explicit !== undefined) return explicit === "none" ? Option.none() : parse(explicit, "explicit")
  const raw = target.protocol === "https:" ? (read(env, "https_proxy") ?? read(env, "all_proxy")) : (read(env, "http_proxy") ?? read(env, "all_proxy"))
  if (raw === undefined || exempt(read(env, "no_proxy"), target)) return Option.none()
  return parse(raw, "environment")
}
