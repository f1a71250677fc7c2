import { status as GrpcStatus, type ServerWritableStream } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '../../../gen/grpc/health/v1/health.js';
import type { BoundService } from './unary.js';

/** Whether the server can do its work now (the database answers and its schema is current). */
export interface HealthSource {
  serving(): boolean;
  /** Calls `listener` at every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** `pkg.Service` from the definition of a bound service (its methods' paths are `/pkg.Service/Method`). */
export const serviceNameOf = (service: BoundService): string => {
  const [first] = Object.values(service.definition);
  return first ? first.path.slice(1, first.path.lastIndexOf('/')) : '';
};

/**
 * The standard gRPC health service (grpc.health.v1) for one listener: "" and the listener's own services are
 * known; every known name is SERVING exactly when the server is healthy. Load balancers and `grpc_health_probe`
 * speak this protocol.
 */
export function createHealthService(serviceNames: readonly string[], health: HealthSource): BoundService {
  const known = (name: string): boolean => name === '' || serviceNames.includes(name);
  const statusOf = (name: string): HealthCheckResponse => ({
    status: !known(name)
      ? ServingStatus.SERVICE_UNKNOWN
      : health.serving()
        ? ServingStatus.SERVING
        : ServingStatus.NOT_SERVING,
  });
  return {
    definition: HealthService,
    implementation: {
      check: (
        call: { request: HealthCheckRequest },
        callback: (error: { code: GrpcStatus; details: string } | null, response?: HealthCheckResponse) => void,
      ) => {
        if (!known(call.request.service)) {
          callback({ code: GrpcStatus.NOT_FOUND, details: 'unknown service' });
          return;
        }
        callback(null, statusOf(call.request.service));
      },
      watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        let last: ServingStatus | undefined;
        const send = (): void => {
          const response = statusOf(call.request.service);
          if (response.status !== last) {
            last = response.status;
            call.write(response);
          }
        };
        send();
        const unsubscribe = health.onChange(send);
        call.on('cancelled', unsubscribe);
        call.on('close', unsubscribe);
      },
    },
  };
}
