/**
 * Ranking zones for a client: drop the zones that cannot take it (no live
 * controller, or no MMR with room), then nearest first by great-circle
 * distance. Pure.
 *
 * @since 0.1.0
 */
import type { GeoPoint, MmrLoad } from "../../protocol/zone.js"

/** @category models */
export interface ZoneStatus {
  readonly id: string
  readonly location: GeoPoint
  readonly liveControllers: number
  readonly mmrs: ReadonlyArray<MmrLoad>
}

/** @category models */
export interface Ranked<Z> {
  readonly zone: Z
  readonly distanceKm: number | undefined
}

const EARTH_RADIUS_KM = 6371.0088

/**
 * Great-circle distance (haversine).
 *
 * @category geometry
 */
export const distanceKm = (a: GeoPoint, b: GeoPoint): number => {
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLon = (b.lon - a.lon) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** Some MMR that is not draining and not full. @category health */
export const hasHeadroom = (mmrs: ReadonlyArray<MmrLoad>): boolean =>
  mmrs.some((m) => !m.draining && m.participants < m.capacity)

/** Can the zone take a new client at all? @category health */
export const isHealthy = (zone: ZoneStatus): boolean => zone.liveControllers > 0 && hasHeadroom(zone.mmrs)

/**
 * Healthy zones, nearest first; without a client location, in the order given
 * (the operator's order).
 *
 * @category ranking
 */
export const rankZones = <Z extends ZoneStatus>(
  zones: ReadonlyArray<Z>,
  client: GeoPoint | undefined,
): ReadonlyArray<Ranked<Z>> => {
  const healthy = zones.filter(isHealthy).map((zone, order) => ({
    zone,
    order,
    distanceKm: client === undefined ? undefined : distanceKm(client, zone.location),
  }))
  if (client !== undefined) healthy.sort((a, b) => a.distanceKm! - b.distanceKm! || a.order - b.order)
  return healthy.map(({ zone, distanceKm }) => ({ zone, distanceKm }))
}
