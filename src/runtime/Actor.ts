/**
 * The actor kernel. An actor is a name, a protocol, a behaviour per request
 * and a mailbox processed in order:
 *
 * - it listens on one or more subjects (queue groups for actors that share
 *   work) and puts every message in its mailbox;
 * - a message that does not decode is answered with a `DecodeError` and the
 *   actor goes on;
 * - a behaviour's success or declared failure is the reply;
 * - a defect (a throw, a `die`) is answered with a `RemoteError`, logged, and
 *   the actor restarts with backoff: the behaviour is built afresh (its old
 *   resources released) and the mailbox, kept, is served on;
 * - when the actor's scope closes it stops taking messages (unsubscribes),
 *   serves what its mailbox holds, and releases its behaviour.
 *
 * @since 0.1.0
 */
import type { Schema } from "effect"
import type { Context } from "effect"
import { Cause, Duration, Effect, Either, ExecutionStrategy, Exit, Fiber, Schedule, Scope } from "effect"
import type { Codec } from "../protocol/codec.js"
import { messageCodec } from "../protocol/codec.js"
import { encodeError, encodeFail, encodeOk } from "../protocol/envelope.js"
import type { BusError } from "../protocol/errors.js"
import { DecodeError, KernelReplyError, RemoteError } from "../protocol/errors.js"
import type { IncomingMessage } from "./ControlBus.js"
import { ControlBus } from "./ControlBus.js"
import { CORRELATION_HEADER, TIMEOUT_HEADER, withCorrelationId } from "./Correlation.js"
import * as RequestFrame from "../protocol/request-frame.js"
import { withImmediateWakeups } from "./ImmediateScheduler.js"
import * as Mailbox from "./internal/mailbox.js"
import type { Handlers, MessageContext, Protocol } from "../protocol/Protocol.js"

/**
 * A subject the actor listens on; with `queue`, each message goes to one
 * member of the group.
 *
 * @category models
 */
export interface Listen {
  readonly subject: string
  readonly queue?: string
}

/**
 * @category models
 */
export interface ActorOptions<Req extends Schema.TaggedRequest.All, R, E, RB> {
  /** For logs and RemoteError replies, e.g. `zone-controller/eu-west/c1`. */
  readonly name: string
  /** Subjects to serve (each with an optional queue group, so that several instances share the work). */
  readonly listen: ReadonlyArray<Listen>
  /**
   * Builds the handlers. Runs at start and again at every restart, in a scope
   * of its own that is closed when that incarnation ends: state made here is
   * fresh after a restart, resources acquired here are released.
   */
  readonly behaviour: Effect.Effect<Handlers<Req, R>, E, RB>
  /** Messages waiting beyond this are answered `overloaded`. Default 10,000. */
  readonly mailboxCapacity?: number
  /** 1 (default) serves the mailbox strictly in order; more runs that many at once. */
  readonly concurrency?: number
  /** Restart backoff: doubles from `initialDelay` up to `maxDelay`. Defaults 20 ms, 5 s. */
  readonly restart?: {
    /** The first restart's delay. Default 20 ms. */
    readonly initialDelay?: Duration.DurationInput
    /** The longest delay between restarts. Default 5 s. */
    readonly maxDelay?: Duration.DurationInput
  }
  /** How long stopping may take to serve the mailbox. Default 5 s. */
  readonly drainTimeout?: Duration.DurationInput
}

/**
 * Counters of one actor, for tests, logs and metrics.
 *
 * @category models
 */
export interface ActorStats {
  readonly received: number
  /** Answered with success. */
  readonly succeeded: number
  /** Answered with a declared failure. */
  readonly failed: number
  readonly decodeErrors: number
  readonly defects: number
  readonly restarts: number
  /** Refused because the mailbox was full. */
  readonly overloaded: number
  /** Dropped unprocessed because the asker had already given up. */
  readonly expired: number
  /** Waiting in the mailbox now. */
  readonly mailbox: number
}

/**
 * A running actor.
 *
 * @category models
 */
export interface ActorRef {
  readonly name: string
  readonly listen: ReadonlyArray<Listen>
  readonly stats: Effect.Effect<ActorStats>
}

/**
 * When no handler needs a service, there is nothing to infer R from and
 * TypeScript settles on unknown; that means "needs nothing".
 */
type Inferred<R> = unknown extends R ? never : R

const STOP = Symbol("stop")
type Delivery = IncomingMessage | typeof STOP

const kernelErrors = messageCodec(KernelReplyError)

/** A header's timeout in ms; undefined when absent or not a number. */
const headerMs = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const ms = Number(value)
  return Number.isFinite(ms) ? ms : undefined
}

/**
 * Starts an actor in the current scope; closing the scope stops it gracefully.
 *
 * @category constructors
 */
// The protocol is its own argument so that TypeScript knows the request types
// before it types the handlers.
export const start = <Req extends Schema.TaggedRequest.All, R, E, RB>(
  protocol: Protocol<Req>,
  options: ActorOptions<Req, R, E, RB>,
): Effect.Effect<ActorRef, E | BusError, ControlBus | Scope.Scope | Inferred<R> | Exclude<RB, Scope.Scope>> =>
  Effect.gen(function* () {
    const bus = yield* ControlBus
    const scope = yield* Effect.scope
    const context = (yield* Effect.context<Inferred<R> | Exclude<RB, Scope.Scope>>()) as Context.Context<
      R | Exclude<RB, Scope.Scope>
    >
    const { name } = options
    const codec: Codec = protocol.codec
    const capacity = options.mailboxCapacity ?? 10_000
    const concurrency = Math.max(1, options.concurrency ?? 1)
    const initialDelay = Duration.decode(options.restart?.initialDelay ?? "20 millis")
    const maxDelay = Duration.decode(options.restart?.maxDelay ?? "5 seconds")
    const drainTimeout = options.drainTimeout ?? "5 seconds"

    const stats = {
      received: 0,
      succeeded: 0,
      failed: 0,
      decodeErrors: 0,
      defects: 0,
      restarts: 0,
      overloaded: 0,
      expired: 0,
    }
    let queued = 0
    let stopping = false
    const mailbox = Mailbox.make<Delivery>()

    // --- replies ---------------------------------------------------------

    const answerKernelError = (message: IncomingMessage, error: DecodeError | RemoteError): void => {
      if (message.reply !== undefined) message.respond(encodeError(codec, kernelErrors.encodeValue(error)))
    }
    const answerRemoteError = (message: IncomingMessage, reason: RemoteError["reason"], detail: string): void =>
      answerKernelError(message, new RemoteError({ subject: message.subject, actor: name, reason, detail }))

    // --- incarnations: the behaviour, built at start and at each restart ---

    let handlers: Handlers<Req, R> | undefined
    let incarnation: Scope.CloseableScope | undefined
    let consecutiveRestarts = 0
    const restartLock = yield* Effect.makeSemaphore(1)

    const buildIncarnation = Effect.gen(function* () {
      const incarnationScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const built = yield* options.behaviour.pipe(
        Scope.extend(incarnationScope),
        Effect.provide(context),
        Effect.onError((cause) => Scope.close(incarnationScope, Exit.failCause(cause))),
      )
      incarnation = incarnationScope
      handlers = built as Handlers<Req, R>
    })

    const restart = (cause: Cause.Cause<unknown>) =>
      Effect.gen(function* () {
        stats.restarts++
        consecutiveRestarts++
        const delay = Duration.min(Duration.times(initialDelay, 2 ** Math.min(consecutiveRestarts - 1, 20)), maxDelay)
        yield* Effect.logError(`actor ${name} restarting in ${Duration.format(delay)} after a defect`, cause)
        handlers = undefined
        if (incarnation !== undefined) yield* Scope.close(incarnation, Exit.failCause(cause))
        incarnation = undefined
        yield* Effect.sleep(delay)
        yield* buildIncarnation.pipe(
          Effect.tapErrorCause((c) => Effect.logError(`actor ${name} could not rebuild its behaviour`, c)),
          // This schedule never ends, so the error channel is empty in practice.
          Effect.retry(Schedule.exponential(initialDelay).pipe(Schedule.union(Schedule.spaced(maxDelay)))),
          Effect.orDie,
        )
        yield* Effect.logInfo(`actor ${name} restarted`)
      }).pipe(restartLock.withPermits(1))

    // Waits out a restart in progress (only reached with concurrency > 1).
    const afterRestart = restartLock.withPermits(1)(Effect.sync(() => handlers!))

    // --- one message -------------------------------------------------------

    // The actor's Clock, read directly: this runs once per message.
    const clock = yield* Effect.clock
    const handle = (message: IncomingMessage): Effect.Effect<void, never, R> => {
      const now = clock.unsafeCurrentTimeMillis()
      const frame = RequestFrame.decode(message.data)
      if (typeof frame === "string") {
        stats.decodeErrors++
        answerKernelError(message, new DecodeError({ subject: message.subject, side: "request", issue: frame }))
        return Effect.logWarning(`actor ${name}: undecodable message on ${message.subject}: ${frame}`)
      }
      // A bare JSON request (a raw NATS client) may carry them as headers.
      const timeout = frame.timeoutMs ?? headerMs(message.header(TIMEOUT_HEADER))
      const deadline = timeout === undefined ? undefined : message.receivedAt + timeout
      if (deadline !== undefined && now > deadline) {
        stats.expired++
        return Effect.void
      }
      const decoded = protocol.requests.decode(frame.body)
      if (Either.isLeft(decoded)) {
        stats.decodeErrors++
        answerKernelError(message, new DecodeError({ subject: message.subject, side: "request", issue: decoded.left }))
        return Effect.logWarning(`actor ${name}: undecodable message on ${message.subject}: ${decoded.left}`)
      }
      const request = decoded.right
      const tag: Req["_tag"] = request._tag
      const results = protocol.results.get(tag)!
      const correlationId = frame.correlationId ?? message.header(CORRELATION_HEADER)
      const messageContext: MessageContext = {
        subject: message.subject,
        correlationId,
        deadline,
        header: message.header,
      }
      type Behaviour = (r: Req, c: MessageContext) => Effect.Effect<unknown, unknown, R>
      // The behaviour is called now (this runs once per message, just before the effect does); a throw is a defect.
      let run: Effect.Effect<unknown, unknown, R>
      if (handlers !== undefined) {
        try {
          run = (handlers[tag] as Behaviour)(request, messageContext)
        } catch (e) {
          run = Effect.die(e)
        }
      } else run = Effect.flatMap(afterRestart, (h) => (h[tag] as Behaviour)(request, messageContext))
      if (correlationId !== undefined) run = withCorrelationId(correlationId)(run)
      return Effect.matchCauseEffect(run, {
        onSuccess: (value) => {
          let encoded: unknown
          try {
            encoded = results.success.encodeValue(value)
          } catch (e) {
            return defect(message, Cause.die(e))
          }
          stats.succeeded++
          consecutiveRestarts = 0
          if (message.reply !== undefined) message.respond(encodeOk(codec, encoded))
          return Effect.void
        },
        onFailure: (cause) => {
          const failureOrCause = Cause.failureOrCause(cause)
          if (Either.isLeft(failureOrCause)) {
            let encoded: unknown
            try {
              encoded = results.failure.encodeValue(failureOrCause.left)
            } catch (e) {
              return defect(message, Cause.die(e))
            }
            stats.failed++
            if (message.reply !== undefined) message.respond(encodeFail(codec, encoded))
            return Effect.void
          }
          if (Cause.isInterruptedOnly(cause)) {
            answerRemoteError(message, "stopping", `${name} is stopping`)
            return Effect.void
          }
          return defect(message, cause)
        },
      })
    }

    const defect = (message: IncomingMessage, cause: Cause.Cause<unknown>) => {
      stats.defects++
      const squashed = Cause.squash(cause)
      answerRemoteError(message, "defect", squashed instanceof Error ? squashed.message : String(squashed))
      return restart(cause)
    }

    // --- the mailbox -------------------------------------------------------

    // A loop of suspends rather than a generator: this runs once per message.
    const worker: Effect.Effect<void, never, R> = Effect.suspend(() => {
      const delivery = mailbox.poll()
      if (delivery === undefined) return Effect.zipRight(mailbox.wait, worker)
      if (delivery === STOP) return Effect.void
      queued--
      return Effect.zipRight(handle(delivery), worker)
    })

    const onMessage = (message: IncomingMessage): void => {
      stats.received++
      if (stopping) return answerRemoteError(message, "stopping", `${name} is stopping`)
      if (queued >= capacity) {
        stats.overloaded++
        return answerRemoteError(message, "overloaded", `${name}'s mailbox holds ${capacity} messages`)
      }
      queued++
      mailbox.offer(message)
    }

    // --- start -------------------------------------------------------------

    yield* buildIncarnation
    const workers: Array<Fiber.RuntimeFiber<void>> = []
    // A message wakes its worker at once, in the bus's callback, not a scheduler hop later.
    const annotated = withImmediateWakeups(Effect.annotateLogs(worker, "actor", name))
    for (let i = 0; i < concurrency; i++) workers.push(yield* Effect.forkDaemon(Effect.provide(annotated, context)))

    const subscriptions = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    yield* Effect.forEach(options.listen, (l) =>
      bus.subscribe(l.subject, l.queue === undefined ? {} : { queue: l.queue }, onMessage),
    ).pipe(Scope.extend(subscriptions), Effect.onError(() => Scope.close(subscriptions, Exit.void)))

    // --- stop: unsubscribe, serve the mailbox, release the behaviour -------

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        stopping = true
        yield* Scope.close(subscriptions, Exit.void)
        for (let i = 0; i < concurrency; i++) mailbox.offer(STOP)
        const drained = yield* Fiber.joinAll(workers).pipe(Effect.timeout(drainTimeout), Effect.option)
        if (drained._tag === "None") {
          yield* Effect.logWarning(`actor ${name} did not drain within ${Duration.format(drainTimeout)}`)
          yield* Fiber.interruptAll(workers)
          for (const left of mailbox.drain()) {
            if (left !== STOP) answerRemoteError(left, "stopping", `${name} stopped before serving this`)
          }
        }
        if (incarnation !== undefined) yield* Scope.close(incarnation, Exit.void)
        yield* Effect.logDebug(`actor ${name} stopped`, stats)
      }),
    )

    yield* Effect.logDebug(`actor ${name} listening on ${options.listen.map((l) => l.subject).join(", ")}`)
    return {
      name,
      listen: options.listen,
      stats: Effect.sync(() => ({ ...stats, mailbox: queued })),
    }
  })
