/**
 * Where spans go. Every join phase is a span (`join.lookup`,
 * `join.zone-selection`, …, with each attempt a child span); with a
 * `tracing` section in the config (or, for any command, the standard
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT and
 * OTEL_SERVICE_NAME variables) they are exported over OTLP/HTTP to an
 * OpenTelemetry collector, else they stay in-process.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"

/** @category models */
export interface TracingConfig {
  /** e.g. http://collector:4318/v1/traces */
  readonly otlpEndpoint: string
  readonly serviceName: string
}

/**
 * The tracer for a process: OTLP export when configured, else none. The
 * batch processor is flushed when the layer's scope closes.
 *
 * @category layers
 */
export const layer = (config: TracingConfig | undefined, role: string): Layer.Layer<never> =>
  config === undefined
    ? Layer.empty
    : Layer.unwrapEffect(
        // Loaded only when tracing is on: the OpenTelemetry SDK costs every command's start-up otherwise.
        Effect.promise(async () => {
          const [{ layer: sdk }, { OTLPTraceExporter }, { BatchSpanProcessor }] = await Promise.all([
            import("@effect/opentelemetry/NodeSdk"),
            import("@opentelemetry/exporter-trace-otlp-http"),
            import("@opentelemetry/sdk-trace-base"),
          ])
          return sdk(() => ({
            resource: { serviceName: config.serviceName, attributes: { "meetzone.role": role } },
            spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpEndpoint }), { scheduledDelayMillis: 500 }),
          }))
        }),
      )

/**
 * The standard OpenTelemetry variables, when set: a traces endpoint as is,
 * or a base endpoint with `/v1/traces` added.
 *
 * @category config
 */
export const fromEnv = (env: Readonly<Record<string, string | undefined>> = process.env): TracingConfig | undefined => {
  const traces = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
  const base = env["OTEL_EXPORTER_OTLP_ENDPOINT"]
  const otlpEndpoint = traces !== undefined && traces !== "" ? traces : base !== undefined && base !== "" ? `${base.replace(/\/$/, "")}/v1/traces` : undefined
  return otlpEndpoint === undefined ? undefined : { otlpEndpoint, serviceName: env["OTEL_SERVICE_NAME"] ?? "meetzone" }
}
