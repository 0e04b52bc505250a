/**
 * What an operator watches on GET /metrics (Prometheus text, operator token
 * only). One registry per server, so tests can start several.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(gauges: { sessions: () => number; environments: () => number; containerdRestarts: () => number; degraded: () => boolean }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "nwl_process_" });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  gauge("nwl_sessions", "Terminal sessions held (attached or not)", gauges.sessions);
  gauge("nwl_environments", "Lab environments held", gauges.environments);
  gauge("nwl_containerd_restarts", "Times the lab's containerd was restarted since the server started", gauges.containerdRestarts);
  gauge("nwl_degraded", "1 while a shared service (containerd, a registry) is down", () => (gauges.degraded() ? 1 : 0));
  return {
    registry,
    checks: new Counter({ name: "nwl_checks_total", help: "Checks run, by result (passed, failed, timed-out, error)", labelNames: ["result"], registers: [registry] }),
    checkSeconds: new Histogram({
      name: "nwl_check_duration_seconds",
      help: "How long a check took, queue wait excluded",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    bytes: terminalBytes(registry),
    repaints: new Counter({
      name: "nwl_terminal_repaints_total",
      help: "Screens repainted for a client instead of its output: resume (a reload or reconnect past the replay buffer), skip (a terminal behind a flood)",
      labelNames: ["reason"],
      registers: [registry],
    }),
    skippedBytes: new Counter({
      name: "nwl_terminal_skipped_bytes_total",
      help: "Output a client got as a repaint of the screen instead of byte by byte",
      registers: [registry],
    }),
    refused: new Counter({
      name: "nwl_refused_total",
      help: "Connections and requests refused, by reason (forbidden-host, forbidden-origin, unauthorized, rate, limit-reached, unsupported-media-type, …)",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}

/** Counted on every frame: the two label children are bound once, not looked up by label object each time. */
function terminalBytes(registry: Registry) {
  const counter = new Counter({ name: "nwl_terminal_bytes_total", help: "Terminal bytes, by direction (in: typed, out: output)", labelNames: ["direction"], registers: [registry] });
  return { in: counter.labels("in"), out: counter.labels("out") };
}
