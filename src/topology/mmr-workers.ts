/**
 * An MMR with `workers: n` is n MMRs on one host, one process per core, as
 * mediasoup runs one worker per core: each worker is a whole MMR to the
 * zone's controllers (its own id, presence, load and media ports), so
 * placement shards meetings across the cores, and a worker that crashes
 * takes only its own meetings with it (they move, as from any MMR that dies).
 *
 *   { id: eu-mmr-1, mediaPort: 8801, tlsPort: 8443, workers: 3 }
 *   → eu-mmr-1-w1  8801 / 8443,  eu-mmr-1-w2  8802 / 8444,  eu-mmr-1-w3  8803 / 8445
 *
 * Port 0 stays 0 (each worker takes any free port). With a fixed
 * metrics.port, worker n serves /metrics on metrics.port + n - 1.
 *
 * @since 0.6.0
 */
import { availableParallelism } from "node:os"
import type { Config, MmrSection } from "./config.js"

type Mmr = typeof MmrSection.Type

/** One worker of an MMR group: an MMR section of its own, and where it came from. @category models */
export type Worker = Mmr & {
  /** The group's configured id, and this worker's number (1…count); absent for an MMR of one worker. */
  readonly group?: { readonly id: string; readonly index: number; readonly count: number }
}

/** How many workers `mmr` runs on this host. @category models */
export const countOf = (mmr: Mmr, cores: number = availableParallelism()): number =>
  mmr.workers === "auto" ? Math.max(1, cores) : mmr.workers

/**
 * The MMRs `mmr` stands for: itself when it has one worker, else one per
 * worker with its id, ports and the same capacity.
 *
 * @category models
 */
export const of = (mmr: Mmr, cores?: number): ReadonlyArray<Worker> => {
  const count = countOf(mmr, cores)
  if (count === 1) return [mmr]
  return Array.from({ length: count }, (_, i) => ({
    ...mmr,
    id: `${mmr.id}-w${i + 1}`,
    workers: 1,
    mediaPort: mmr.mediaPort === 0 ? 0 : mmr.mediaPort + i,
    tlsPort: mmr.tlsPort === 0 ? 0 : mmr.tlsPort + i,
    group: { id: mmr.id, index: i + 1, count },
  }))
}

/**
 * What is wrong with the configuration's worker groups, each with its path:
 * ports past 65535, a group's UDP/TCP and TLS ranges overlapping (its workers
 * share a host, so they would collide at start), and "auto" where every actor
 * has its own NATS identity (identities are made per worker, before the host
 * is known).
 *
 * @category validation
 */
export const problems = (config: Config): ReadonlyArray<{ readonly path: string; readonly message: string }> => {
  const found: Array<{ path: string; message: string }> = []
  config.zones.forEach((zone, i) =>
    zone.mmrs.forEach((mmr, j) => {
      const path = `zones.${i}.mmrs.${j}`
      if (mmr.workers === "auto") {
        if (config.nats.credsDir !== undefined) {
          found.push({ path: `${path}.workers`, message: `"auto" cannot be used with nats.credsDir: every worker needs a NATS identity made in advance, so give a number (the host's cores)` })
        }
        return
      }
      const n = mmr.workers
      if (n === 1) return
      if (mmr.mediaPort !== 0 && mmr.mediaPort + n - 1 > 65535) {
        found.push({ path: `${path}.mediaPort`, message: `${n} workers need ports ${mmr.mediaPort}–${mmr.mediaPort + n - 1}, past 65535` })
      }
      if (mmr.tlsPort !== 0 && mmr.tlsPort + n - 1 > 65535) {
        found.push({ path: `${path}.tlsPort`, message: `${n} workers need ports ${mmr.tlsPort}–${mmr.tlsPort + n - 1}, past 65535` })
      }
      if (config.metrics.enabled && config.metrics.port !== 0 && config.metrics.port + n - 1 > 65535) {
        found.push({ path: `${path}.workers`, message: `${n} workers serve /metrics on ports ${config.metrics.port}–${config.metrics.port + n - 1}, past 65535` })
      }
      if (mmr.mediaPort !== 0 && mmr.tlsPort !== 0 && mmr.mediaPort < mmr.tlsPort + n && mmr.tlsPort < mmr.mediaPort + n) {
        found.push({
          path: `${path}.tlsPort`,
          message: `the workers' TLS ports ${mmr.tlsPort}–${mmr.tlsPort + n - 1} overlap their UDP/TCP ports ${mmr.mediaPort}–${mmr.mediaPort + n - 1} (the workers share one host)`,
        })
      }
    }),
  )
  return found
}
