import { randomFillSync } from 'node:crypto';
import type { ResolvedConfig } from '../config/resolve-config.js';
import type { CertificateRefusals } from '../domain/certificate-trust.js';
import type { Clock } from '../domain/clock.js';
import { createPooledRandom, type RandomSource } from '../domain/random.js';
import type { Logger } from '../logging/logger.js';
import type { ConnectionClosures, ConnectionRefusals, RequestObserver } from '../observability/metrics.js';
import type { RevocationChecker } from '../pki/revocation-checker.js';
import type { HealthSource } from '../transport/grpc/health-service.js';
import type { ReflectionInstaller } from '../transport/grpc/reflection.js';
import type { OcspStapleSource } from '../transport/tls/tls-material.js';

/** What every server is built from: app.ts makes it once, capsules.ts and shares.ts take what they need. */
export interface Wiring {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly revocation: RevocationChecker;
  readonly ocspStaple: OcspStapleSource | undefined;
  readonly observer: RequestObserver;
  /** Counts certificate refusals by reason (metrics). */
  readonly refusals: CertificateRefusals;
  /** Counts connections refused by each listener's connection cap (metrics). */
  readonly connectionRefusals: ConnectionRefusals;
  /** Counts connections the listeners closed for what their clients did (metrics). */
  readonly connectionClosures: ConnectionClosures;
  readonly health: HealthSource;
  readonly reflection: ReflectionInstaller;
  /** Waits for a listener to start and returns its port; app.ts closes it on stop or when a later start fails. */
  readonly listen: (start: Promise<Listener>) => Promise<number>;
}

export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

export const nodeRandom: RandomSource = createPooledRandom((buffer) => randomFillSync(buffer));
