/**
 * Meetings and where they are placed.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Token } from "./subjects.js"

/**
 * Meeting ids are 10 or 11 digits, as people read them out.
 *
 * @category schemas
 */
export const MeetingId = Schema.String.pipe(
  Schema.pattern(/^\d{10,11}$/, { message: () => "a meeting id is 10 or 11 digits" }),
)
export type MeetingId = typeof MeetingId.Type

/**
 * A passcode is stored only as a salted scrypt hash.
 *
 * @category schemas
 */
export const PasscodeHash = Schema.Struct({ salt: Schema.String, hash: Schema.String })

/**
 * A meeting as stored in the meetings bucket.
 *
 * @category schemas
 */
export const Meeting = Schema.Struct({
  id: MeetingId,
  topic: Schema.String,
  passcode: Schema.optional(PasscodeHash),
  createdAt: Schema.Number,
  /** Its media keys are made by its participants (protocol/e2e.ts): the web tier holds none. */
  endToEnd: Schema.optional(Schema.Boolean),
})
export type Meeting = typeof Meeting.Type

/**
 * Which MMR hosts a meeting. One per meeting, written with create-if-absent
 * and replaced only with compare-and-set, so two controllers can never put
 * one meeting on two MMRs.
 *
 * @category schemas
 */
export const Placement = Schema.Struct({
  meeting: MeetingId,
  zone: Token,
  mmr: Token,
  /** The MMR's control subject. */
  subject: Schema.String,
  placedBy: Schema.String,
  at: Schema.Number,
})
export type Placement = typeof Placement.Type
