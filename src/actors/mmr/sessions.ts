/**
 * Each participant's session secret, kept hashed: the first Join binds it,
 * every later Join, Leave, MediaTokens and Signal must carry it — so a
 * copied join token cannot take a session over.
 *
 * @since 0.1.0
 */
import { createHash, timingSafeEqual } from "node:crypto"

const keyOf = (meeting: string, participant: string) => `${meeting}/${participant}`
const hash = (secret: string) => createHash("sha256").update(secret).digest()

/** @category models */
export class Sessions {
  private readonly bound = new Map<string, Buffer>()

  /** Whether `secret` is the participant's (or none is bound yet). */
  holds(meeting: string, participant: string, secret: string): boolean {
    const bound = this.bound.get(keyOf(meeting, participant))
    return bound === undefined || timingSafeEqual(bound, hash(secret))
  }

  /** Whether a secret is bound for the participant. */
  isBound(meeting: string, participant: string): boolean {
    return this.bound.has(keyOf(meeting, participant))
  }

  bind(meeting: string, participant: string, secret: string): void {
    this.bound.set(keyOf(meeting, participant), hash(secret))
  }

  forget(meeting: string, participant: string): void {
    this.bound.delete(keyOf(meeting, participant))
  }
}
