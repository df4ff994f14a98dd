/**
 * Random tokens of a fixed byte length, as base64url, drawn from the
 * system's CSPRNG a batch at a time: one `randomBytes` call per token showed
 * in the profiles of the request path (reply tokens) and the join storm
 * (media-token nonces).
 *
 * @since 0.6.0
 */
import { randomBytes } from "node:crypto"

/** A source of `bytes`-byte random tokens, refilled `batch` tokens at a time. @category constructors */
export const base64url = (bytes: number, batch = 512): (() => string) => {
  let random = randomBytes(bytes * batch)
  let used = 0
  return () => {
    if (used === batch) {
      random = randomBytes(bytes * batch)
      used = 0
    }
    return random.toString("base64url", bytes * used, bytes * ++used)
  }
}
