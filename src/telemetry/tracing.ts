import { telemetry } from '@livekit/agents';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TracingOptions {
  /** OTLP/HTTP (protobuf) base URL, e.g. http://otel-collector:4318; traces go to <url>/v1/traces. */
  endpoint: string;
  serviceName: string;
  /** Put on every span, so a trace finds its call. */
  attributes: Record<string, string>;
}

export interface Tracing {
  /** Send what is buffered and stop; the job waits for this on shutdown so its last turn is not lost. */
  shutdown(): Promise<void>;
}

/**
 * Pass the agents framework's own spans (agent_turn, llm_node, tts_node, user_turn...) to an
 * OpenTelemetry collector. agents-js creates the spans; it needs a tracer provider to send them
 * anywhere. The fanout processor keeps LiveKit Cloud's tracing able to attach beside ours, as
 * agents asks of SDK 2.x providers. Headers (OTEL_EXPORTER_OTLP_HEADERS, e.g. an API key) are read
 * by the exporter from the environment, as every OTel SDK does.
 */
export function startTracing(opts: TracingOptions): Tracing {
  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const fanout = new telemetry.FanoutSpanProcessor();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    // Short delay: a call's spans should reach the collector while someone is looking at the call.
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 }), fanout],
  });
  telemetry.setTracerProvider(provider, { metadata: opts.attributes, registerSpanProcessor: (p) => fanout.add(p) });
  return {
    shutdown: async () => {
      await provider.forceFlush().catch(() => undefined);
      await provider.shutdown().catch(() => undefined);
    },
  };
}
