/**
 * The protocol, as one entry point: every message and reply schema, the
 * subject and bucket names, the typed errors of the control plane, and the
 * media formats. One namespace per module, so names never clash.
 *
 * @module meetzone/protocol
 * @since 0.1.0
 */
export * as Codec from "./codec.js"
/** Declaring an actor protocol from its request classes (used by the kernel and by every actor). */
export * as ActorProtocol from "./Protocol.js"
export * as Controller from "./controller.js"
export * as E2e from "./e2e.js"
export * as Errors from "./errors.js"
export * as Framing from "./framing.js"
export * as JoinReport from "./join-report.js"
export * as Media from "./media.js"
export * as MediaKeys from "./media-keys.js"
export * as MediaToken from "./media-token.js"
export * as Meeting from "./meeting.js"
export * as Mmr from "./mmr.js"
export * as Relay from "./relay.js"
export * as Rtp from "./rtp.js"
export * as Srtp from "./srtp.js"
export * as Stun from "./stun.js"
export * as Subjects from "./subjects.js"
export * as Token from "./token.js"
export * as Tunnel from "./tunnel.js"
export * as Vp8 from "./vp8.js"
export * as WebApi from "./web-api.js"
export * as Zone from "./zone.js"

/** The errors an `ask` can end with, by name. @category errors */
export { DecodeError, KvError, NoResponders, RemoteError, RequestTimeout } from "./errors.js"
