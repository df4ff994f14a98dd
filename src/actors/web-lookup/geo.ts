/**
 * Where is this client? First the operator's map of networks to locations
 * (it wins: private and test networks are in no Geo-IP database), then a
 * MaxMind-format City database read with the `maxmind` reader. A service, so
 * a deployment can plug in another provider.
 *
 * @since 0.1.0
 */
import ipaddr from "ipaddr.js"
import type { CityResponse, Reader } from "maxmind"
import maxmind from "maxmind"
import { Context, Data, Effect, Layer, Option } from "effect"
import type { GeoPoint } from "../../protocol/zone.js"

/** @category models */
export interface Located {
  readonly location: GeoPoint
  readonly by: "cidr-map" | "geoip"
}

/** @category models */
export interface CidrLocation {
  readonly cidr: string
  readonly location: GeoPoint
  readonly label?: string
}

/** @category models */
export interface GeoLocatorShape {
  /** Where a client address is, if known. */
  readonly locate: (address: string) => Option.Option<Located>
}

/** @category tags */
export class GeoLocator extends Context.Tag("meetzone/GeoLocator")<GeoLocator, GeoLocatorShape>() {}

/** @category errors */
export class GeoDatabaseError extends Data.TaggedError("GeoDatabaseError")<{ readonly path: string; readonly detail: string }> {
  override get message(): string {
    return `cannot open Geo-IP database ${this.path}: ${this.detail}`
  }
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are the same client. @category addresses */
export const normalize = (address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined => {
  try {
    return ipaddr.process(address)
  } catch {
    return undefined
  }
}

/**
 * Compiles the CIDR map; the longest matching prefix wins.
 *
 * @category constructors
 */
export const cidrMatcher = (entries: ReadonlyArray<CidrLocation>) => {
  const compiled = entries
    .map((e) => ({ range: ipaddr.parseCIDR(e.cidr), location: e.location }))
    .sort((a, b) => b.range[1] - a.range[1])
  return (address: string): Option.Option<GeoPoint> => {
    const ip = normalize(address)
    if (ip === undefined) return Option.none()
    for (const { range, location } of compiled) {
      if (ip.kind() === range[0].kind() && ip.match(range as [ipaddr.IPv4, number] & [ipaddr.IPv6, number])) {
        return Option.some(location)
      }
    }
    return Option.none()
  }
}

/**
 * A locator over a CIDR map and, optionally, an open City database.
 *
 * @category constructors
 */
export const make = (options: {
  readonly cidrMap: ReadonlyArray<CidrLocation>
  readonly database?: Reader<CityResponse>
}): GeoLocatorShape => {
  const byCidr = cidrMatcher(options.cidrMap)
  return {
    locate: (address) => {
      const fromMap = byCidr(address)
      if (Option.isSome(fromMap)) return Option.some({ location: fromMap.value, by: "cidr-map" })
      const ip = normalize(address)
      if (options.database === undefined || ip === undefined) return Option.none()
      const record = options.database.get(ip.toString())
      const lat = record?.location?.latitude
      const lon = record?.location?.longitude
      return lat === undefined || lon === undefined ? Option.none() : Option.some({ location: { lat, lon }, by: "geoip" })
    },
  }
}

/**
 * Opens the City database at `databasePath`, if given.
 *
 * @category layers
 */
export const layer = (options: {
  readonly cidrMap: ReadonlyArray<CidrLocation>
  readonly databasePath?: string
}): Layer.Layer<GeoLocator, GeoDatabaseError> =>
  Layer.effect(
    GeoLocator,
    Effect.gen(function* () {
      const path = options.databasePath
      const database =
        path === undefined
          ? undefined
          : yield* Effect.tryPromise({
              // Loaded into memory and not watched: a new database means a restart.
              try: () => maxmind.open<CityResponse>(path, { watchForUpdates: false }),
              catch: (e) => new GeoDatabaseError({ path, detail: e instanceof Error ? e.message : String(e) }),
            })
      return make({ cidrMap: options.cidrMap, ...(database !== undefined ? { database } : {}) })
    }),
  )
