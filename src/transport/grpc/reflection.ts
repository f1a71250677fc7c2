import type { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';

/** Every proto file this server serves, relative to proto/. */
const PROTO_FILES = ['cdoc2/capsules/v1/capsules.proto', 'cdoc2/shares/v1/shares.proto', 'grpc/health/v1/health.proto'];

export type ReflectionInstaller = (server: Pick<Server, 'addService'>, serviceNames: readonly string[]) => void;

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so that standard tools (grpcurl, Postman, grpcui) can
 * list and call the services without the proto files. The contracts are read once from proto/, the same files
 * the generated code comes from; each listener exposes only its own services and the health service.
 */
export function createReflection(protoDir: string): ReflectionInstaller {
  const definition = loadSync(PROTO_FILES, { includeDirs: [protoDir] });
  return (server, serviceNames) =>
    new ReflectionService(definition, { services: [...serviceNames, 'grpc.health.v1.Health'] }).addToServer(server);
}
