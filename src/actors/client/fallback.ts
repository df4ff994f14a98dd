/**
 * The order of last resorts. Pure.
 *
 *   direct      → connected: done
 *               → no controller answered (5.5 s) or no transport reached the MMR:
 *                 the tunnel, if the lookup listed any; else the web client
 *               → anything else (no such meeting, access denied, no MMR): done, failed
 *   tunnel      → connected: done; otherwise the web client
 *   web client  → the end: the result names its URL and why each path failed
 *
 * @since 0.1.0
 */

/** @category models */
export type Path = "direct" | "tunnel" | "web-client"

/** How a path ended. @category models */
export type Ending =
  | "connected"
  | "zones-unreachable"
  | "media-unreachable"
  | "no-mmr"
  | "rejected"
  | "tunnel-failed"

/** @category decision */
export const next = (path: Path, ending: Ending, tunnelsListed: boolean): Path | "done" => {
  if (ending === "connected" || ending === "rejected") return "done"
  if (path === "direct") {
    if (ending === "zones-unreachable" || ending === "media-unreachable") return tunnelsListed ? "tunnel" : "web-client"
    return "done"
  }
  if (path === "tunnel") return "web-client"
  return "done"
}
