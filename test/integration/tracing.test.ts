/**
 * Spans of a join, exported over OTLP/HTTP to a collector: here a plain
 * HTTP server standing in for one, reading what the exporter sends.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Client from "../../src/actors/client/Client.js"
import * as Lookup from "../../src/actors/client/lookup.js"
import * as Tracing from "../../src/apps/tracing.js"
import * as Connector from "../../src/transports/connector.js"
import { TestNats, serverWithClient } from "../support/nats.js"
import * as TestTopology from "../support/topology.js"

interface OtlpSpan {
  readonly name: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: { readonly stringValue?: string } }>
}

/** A stand-in collector: every span posted to /v1/traces (OTLP JSON). */
const collector = Effect.acquireRelease(
  Effect.async<{ url: string; spans: Array<OtlpSpan>; close: () => void }>((resume) => {
    const spans: Array<OtlpSpan> = []
    const server = createServer((request, response) => {
      let body = ""
      request.on("data", (c: Buffer) => void (body += c.toString()))
      request.on("end", () => {
        const payload = JSON.parse(body) as { resourceSpans: ReadonlyArray<{ scopeSpans: ReadonlyArray<{ spans: ReadonlyArray<OtlpSpan> }> }> }
        for (const r of payload.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans)
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    }).listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, spans, close: () => server.close() })),
    )
  }),
  (c) => Effect.sync(c.close),
)

layer(serverWithClient, { excludeTestServices: true, timeout: "60 seconds" })("tracing", (it) => {
  it.scoped("a join is a span with a child span per phase, exported over OTLP when configured", () =>
    Effect.gen(function* () {
      const nats = yield* TestNats
      const { web, tls } = yield* TestTopology.start(TestTopology.twoZones({ prefix: "trace" }), [nats.url])
      const http = yield* Lookup.dispatcher(tls, Option.none())
      const meeting = (yield* Lookup.createMeeting(http, new URL(web), { timeoutMs: 5000 })).id
      const otlp = yield* collector
      // The exporter flushes when the tracing layer's scope closes.
      yield* Effect.scoped(Client.join({ web, meeting, tls, proxy: "none" })).pipe(
        Effect.provide(Connector.nats),
        Effect.provide(Tracing.layer({ otlpEndpoint: otlp.url, serviceName: "meetzone-test" }, "client")),
      )
      const join = otlp.spans.find((s) => s.name === "join")
      expect(join, otlp.spans.map((s) => s.name).join(", ")).toBeDefined()
      expect(join!.attributes).toContainEqual({ key: "meetzone.meeting", value: { stringValue: meeting } })
      const phases = otlp.spans.filter((s) => s.parentSpanId === join!.spanId).map((s) => s.name)
      expect(phases).toEqual(expect.arrayContaining(["join.lookup", "join.zone-selection", "join.mmr-selection"]))
      // Attempts are children of their phase: the zone-selection probes, for one.
      const zoneSelection = otlp.spans.find((s) => s.name === "join.zone-selection")!
      expect(otlp.spans.some((s) => s.parentSpanId === zoneSelection.spanId)).toBe(true)
    }),
  )
})
