package dev.baton.gateway;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The gateway's Prometheus metrics (one registry per gateway, so tests can run several). */
final class GatewayMetrics {
  private static final double[] LATENCY_BOUNDS = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
  };

  final PrometheusRegistry registry = new PrometheusRegistry();
  final Counter requests =
      Counter.builder()
          .name("baton_gateway_requests_total")
          .help("Requests answered, by route, HTTP status and routing policy")
          .labelNames("route", "status", "policy")
          .register(registry);
  final Counter selections =
      Counter.builder()
          .name("baton_gateway_worker_selections_total")
          .help("Times a worker was chosen, by leg (prefill, decode, colocated)")
          .labelNames("worker", "leg")
          .register(registry);
  final Histogram upstreamLatency =
      Histogram.builder()
          .name("baton_gateway_upstream_latency_seconds")
          .help("Upstream time per leg: until the full answer (prefill) or the end of the stream")
          .labelNames("leg")
          .classicOnly()
          .classicUpperBounds(LATENCY_BOUNDS)
          .register(registry);
  final Histogram ttft =
      Histogram.builder()
          .name("baton_gateway_time_to_first_token_seconds")
          .help("From request arrival to the first streamed token sent to the client")
          .classicOnly()
          .classicUpperBounds(LATENCY_BOUNDS)
          .register(registry);
  final Histogram itl =
      Histogram.builder()
          .name("baton_gateway_inter_token_latency_seconds")
          .help("Gaps between streamed chunks sent to the client")
          .classicOnly()
          .classicUpperBounds(LATENCY_BOUNDS)
          .register(registry);
  final Counter retries =
      Counter.builder()
          .name("baton_gateway_retries_total")
          .help("Attempts retried on another worker, by the leg that failed")
          .labelNames("leg")
          .register(registry);
  final Counter migrations =
      Counter.builder()
          .name("baton_gateway_migrations_total")
          .help(
              "Broken decode streams continued on another worker, by what the continuation"
                  + " started from (token_ids: exact; text: re-tokenized)")
          .labelNames("from")
          .register(registry);
  final Counter watchdogCuts =
      Counter.builder()
          .name("baton_gateway_decode_watchdog_cuts_total")
          .help("Decode streams cut for silence (first_byte_ms or idle_ms of decode_watchdog)")
          .register(registry);
  final Counter ejections =
      Counter.builder()
          .name("baton_gateway_ejections_total")
          .help("Times a worker was ejected by the circuit breaker")
          .labelNames("worker")
          .register(registry);
  final Counter rejected =
      Counter.builder()
          .name("baton_gateway_rejected_total")
          .help("Requests refused by admission control (429)")
          .labelNames("pool")
          .register(registry);
  final Counter clientDisconnects =
      Counter.builder()
          .name("baton_gateway_client_disconnects_total")
          .help("Requests whose client went away; their upstream requests were aborted")
          .register(registry);
  final Gauge inFlight =
      Gauge.builder()
          .name("baton_gateway_in_flight_requests")
          .help("Requests in flight per worker (this gateway's own count)")
          .labelNames("worker")
          .register(registry);

  String text() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
    try {
      PrometheusTextFormatWriter.create().write(out, registry.scrape());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString(java.nio.charset.StandardCharsets.UTF_8);
  }
}
