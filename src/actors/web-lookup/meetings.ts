/**
 * Meetings in the meetings bucket: created with a fresh id (create-if-absent,
 * so two web servers cannot hand out the same one), passcodes kept only as
 * salted scrypt hashes and compared in constant time.
 *
 * @since 0.1.0
 */
import { randomBytes, randomInt, scrypt, timingSafeEqual } from "node:crypto"
import { Clock, Effect, Option } from "effect"
import { StoreUnavailable } from "../../protocol/errors.js"
import type { Meeting } from "../../protocol/meeting.js"
import type { Stores } from "../stores.js"
import { unavailable } from "../stores.js"

const scryptHex = (passcode: string, salt: string) =>
  Effect.async<string>((resume) => {
    scrypt(passcode, salt, 32, (err, key) => resume(err ? Effect.die(err) : Effect.succeed(key.toString("hex"))))
  })

/** Ten digits, not starting with 0, as people read them out. */
const newId = () => String(randomInt(1_000_000_000, 10_000_000_000))

/** @category meetings */
export const create = (stores: Stores, topic: string, passcode: string | undefined, endToEnd = false) =>
  Effect.gen(function* () {
    const createdAt = yield* Clock.currentTimeMillis
    const salt = randomBytes(16).toString("hex")
    const hashed = passcode === undefined ? undefined : { salt, hash: yield* scryptHex(passcode, salt) }
    for (let attempt = 0; attempt < 5; attempt++) {
      const meeting: Meeting = { id: newId(), topic, createdAt, ...(hashed !== undefined ? { passcode: hashed } : {}), ...(endToEnd ? { endToEnd } : {}) }
      const created = yield* stores.meetings.create(meeting.id, meeting).pipe(
        Effect.as(true),
        Effect.catchTag("KeyExists", () => Effect.succeed(false)),
        Effect.mapError(unavailable("meetings")),
      )
      if (created) return meeting
    }
    return yield* new StoreUnavailable({ store: "meetings", detail: "no free meeting id after 5 tries" })
  })

/** @category meetings */
export const find = (stores: Stores, id: string) =>
  stores.meetings.get(id).pipe(
    Effect.map(Option.map((v) => v.value)),
    Effect.mapError(unavailable("meetings")),
  )

/** @category passcodes */
export const passcodeMatches = (meeting: Meeting, passcode: string) =>
  meeting.passcode === undefined
    ? Effect.succeed(true)
    : Effect.map(scryptHex(passcode, meeting.passcode.salt), (hash) => {
        const expected = Buffer.from(meeting.passcode!.hash, "hex")
        const actual = Buffer.from(hash, "hex")
        return expected.length === actual.length && timingSafeEqual(expected, actual)
      })
