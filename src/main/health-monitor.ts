import type { HealthSource } from '../transport/grpc/health-service.js';
import type { Readiness } from '../transport/management/management-server.js';

export interface HealthMonitor extends HealthSource {
  /** Checks now (also done every interval). */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Keeps the last readiness verdict for the gRPC health service, so that health checks never wait on the
 * database: it asks every `intervalMs` (the timer does not keep the process alive) and tells subscribers when
 * the verdict changes.
 */
export function createHealthMonitor(check: () => Promise<Readiness>, intervalMs: number): HealthMonitor {
  let serving = false;
  const listeners = new Set<() => void>();
  const refresh = async (): Promise<void> => {
    const ready = (await check()).ready;
    if (ready !== serving) {
      serving = ready;
      listeners.forEach((listener) => listener());
    }
  };
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return {
    serving: () => serving,
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    refresh,
    stop: () => {
      clearInterval(timer);
      listeners.clear();
    },
  };
}
