import { createLogger } from '../../src/logging/logger.js';
import type { RequestObserver } from '../../src/observability/metrics.js';
import { createRequestPipeline, type RequestPipeline } from '../../src/transport/request-pipeline.js';
import { logSink } from './log-sink.js';

/** A request pipeline writing its log lines into memory (parsed), and the metric observations it made. */
export function recordingPipeline(): {
  readonly pipeline: RequestPipeline;
  readonly lines: Array<Record<string, unknown>>;
  readonly observed: string[];
} {
  const lines: Array<Record<string, unknown>> = [];
  const observed: string[] = [];
  const logger = createLogger(
    { level: 'info', pretty: false },
    logSink((line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
  );
  const observer: RequestObserver = {
    observe: (transport, operation, outcome) => observed.push(`${transport} ${operation} ${outcome}`),
  };
  return { pipeline: createRequestPipeline(logger, observer), lines, observed };
}
