import {
  status as GrpcStatus,
  type MethodDefinition,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { ERROR_TABLE } from '../error-table.js';
import { operationForGrpcPath } from '../operations.js';
import type { RequestPipeline } from '../request-pipeline.js';
import { peerIdentityOf, type PeerIdentity } from '../tls/peer-identity.js';
import { requestStarts } from '../turn-scheduler.js';

/** What a handler knows of its call, beyond the request message. */
export interface CallContext {
  readonly requestId: string;
  readonly peer: string;
  /** The client's TLS certificate, when it presented one (mutual TLS listeners), derived once per certificate. */
  readonly peerIdentity: PeerIdentity | undefined;
}

export type AsyncUnaryHandler<Request, Response> = (request: Request, context: CallContext) => Promise<Response>;

/** grpc-js builds the peer certificate object on every call; what is derived from it is kept by fingerprint. */
function identityOf(call: ServerUnaryCall<unknown, unknown>): PeerIdentity | undefined {
  const certificate = call.getAuthContext()?.sslPeerCertificate;
  return certificate?.raw ? peerIdentityOf(certificate) : undefined;
}

/**
 * How close to its deadline a cancellation still counts as the deadline's. A client whose deadline passes sends
 * RST_STREAM(CANCEL); the server's copy of the deadline (grpc-timeout, counted from when grpc-js read the call's
 * headers) runs behind the client's by the time the call took to arrive and be read, so that cancel usually comes
 * a little before the server's own deadline. Nothing on the wire tells the two apart (gRPC over HTTP/2, "Timeouts").
 */
const DEADLINE_SLACK_MS = 100;

/** grpc-js gives a call's deadline as a Date or epoch milliseconds (Infinity when the client set none). */
const deadlinePassed = (deadline: Date | number): boolean =>
  (deadline instanceof Date ? deadline.getTime() : deadline) - DEADLINE_SLACK_MS <= Date.now();

/** The shape of ts-proto's generated method definitions. */
interface GeneratedMethod {
  readonly path: string;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: never): Buffer;
}
type RequestOf<M> = M extends { requestDeserialize(bytes: Buffer): infer Request } ? Request : never;
type ResponseOf<M> = M extends { responseSerialize(value: infer Response): Buffer } ? Response : never;

export type AsyncServiceImplementation<D> = {
  readonly [K in keyof D]: AsyncUnaryHandler<RequestOf<D[K]>, ResponseOf<D[K]>>;
};

/** A request as it comes out of our deserializer: decoding never throws inside grpc-js. */
type Decoded<Request> = { readonly ok: true; readonly value: Request } | { readonly ok: false };

export interface BoundService {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

/**
 * Adapts async handlers to grpc-js: every call is answered exactly once, through the one request pipeline
 * (request-pipeline.ts: request id, error table, metric, log line) that the REST gateway runs too; the operation
 * name is the one operations.ts gives the method's path. Two details matter for security:
 * - grpc-js answers a request it cannot decode with INTERNAL; malformed protobuf is the client's fault, so the
 *   deserializer is wrapped to hand the failure to the handler, which answers INVALID_ARGUMENT.
 * - grpc-js sends `err.message` of any error to the client; only `toPublicError`'s text is ever sent.
 */
export function bindService<D extends Readonly<Record<string, GeneratedMethod>>>(
  definition: D,
  handlers: AsyncServiceImplementation<D>,
  pipeline: RequestPipeline,
): BoundService {
  const safeDefinition: Record<string, MethodDefinition<unknown, unknown>> = {};
  const implementation: UntypedServiceImplementation = {};
  for (const [name, generated] of Object.entries(definition)) {
    const method = generated as unknown as MethodDefinition<unknown, unknown>;
    safeDefinition[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): Decoded<unknown> => {
        try {
          return { ok: true, value: method.requestDeserialize(bytes) };
        } catch {
          return { ok: false };
        }
      },
    };
    const handler = handlers[name as keyof D] as AsyncUnaryHandler<unknown, unknown>;
    const operation = operationForGrpcPath(method.path);
    implementation[name] = (
      call: ServerUnaryCall<Decoded<unknown>, unknown>,
      callback: sendUnaryData<unknown>,
    ): void => {
      const peer = call.getPeer();
      const trace = pipeline.start({
        transport: 'grpc',
        listener: operation.listener,
        operation: operation.name,
        peer,
      });
      const context: CallContext = { requestId: trace.requestId, peer, peerIdentity: identityOf(call) };
      // A call cancelled by its client, or whose deadline passed, gets no answer of ours (grpc-js drops it and, for
      // a deadline, answers DEADLINE_EXCEEDED itself): it is recorded when it ends, not when the work does.
      call.on('cancelled', () => {
        if (deadlinePassed(call.getDeadline())) {
          trace.abandon('deadline_exceeded', 'DEADLINE_EXCEEDED', 'the deadline of the call passed before the answer');
        } else {
          trace.abandon('cancelled', 'CANCELLED', 'the client cancelled the call before the answer');
        }
      });
      const answer = (code: GrpcStatus, ...args: Parameters<sendUnaryData<unknown>>): void => {
        callback(...args);
        trace.finish(GrpcStatus[code], context.peerIdentity?.logSubject);
      };
      const refuse = (code: GrpcStatus, message: string): void =>
        answer(code, { code, details: message, name: 'Error', message });
      const fail = (error: unknown): void => {
        const { mapping, message } = trace.fail(error);
        refuse(mapping.grpc, message);
      };
      if (!call.request.ok) {
        const reason = 'the request is not a valid protobuf message of this method';
        trace.refuse(ERROR_TABLE.invalid_argument, reason);
        refuse(GrpcStatus.INVALID_ARGUMENT, reason);
        return;
      }
      const request = call.request.value;
      // The handler starts in a later turn, a few calls at a time and one connection after another (README
      // "Limits"): the up to 100 calls of one connection's burst otherwise all started in the turn that read them.
      requestStarts.schedule(peer, () => {
        if (call.cancelled) {
          // Recorded by the `cancelled` listener above; nobody is left to answer.
          return;
        }
        let pending: Promise<unknown>;
        try {
          pending = handler(request, context);
        } catch (error) {
          fail(error);
          return;
        }
        pending.then((response) => answer(GrpcStatus.OK, null, response), fail);
      });
    };
  }
  return { definition: safeDefinition, implementation };
}
