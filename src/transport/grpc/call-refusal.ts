import { status as GrpcStatus, type ServerInterceptingCallInterface } from '@grpc/grpc-js';
import type { ErrorMapping } from '../error-table.js';
import { findOperationForGrpcPath, UNKNOWN_OPERATION, type ListenerName } from '../operations.js';
import type { RequestPipeline } from '../request-pipeline.js';
import { peerIdentityOf } from '../tls/peer-identity.js';

/**
 * Answers a call before its handler runs (from a server interceptor) and records it through the one request
 * pipeline, as the REST gateway records the requests Node's HTTP parser refuses (README "Health, metrics, logs"):
 * one log line and one `cdoc2_requests_total` count per refused call, with the outcome of the mapping. The
 * handler of a refused call never runs (the call's metadata is not passed on), so the call is recorded once.
 */
export type RefuseCall = (
  method: { readonly path: string },
  call: ServerInterceptingCallInterface,
  mapping: ErrorMapping,
  reason: string,
) => void;

/**
 * The refusal of one gRPC listener. A method that is not an operation (health, reflection) is logged as the
 * operation `unknown` on `listener`, the listener's name in logs (operations.ts).
 */
export function callRefusal(pipeline: RequestPipeline, listener: ListenerName): RefuseCall {
  return (method, call, mapping, reason) => {
    const operation = findOperationForGrpcPath(method.path);
    const trace = pipeline.start({
      transport: 'grpc',
      listener: operation?.listener ?? listener,
      operation: operation?.name ?? UNKNOWN_OPERATION,
      peer: call.getPeer(),
    });
    trace.refuse(mapping, reason);
    call.sendStatus({ code: mapping.grpc, details: reason });
    const certificate = call.getAuthContext()?.sslPeerCertificate;
    trace.finish(GrpcStatus[mapping.grpc], certificate?.raw ? peerIdentityOf(certificate).logSubject : undefined);
  };
}
