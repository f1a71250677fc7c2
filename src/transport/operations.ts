import {
  KeyCapsuleRecipientServiceService,
  KeyCapsuleSenderServiceService,
} from '../../gen/cdoc2/capsules/v1/capsules.js';
import { KeyShareRecipientServiceService, KeyShareSenderServiceService } from '../../gen/cdoc2/shares/v1/shares.js';

/**
 * Every operation of both servers, described once (README "Health, metrics, logs"). Its name is the gRPC method
 * name and is the only name used for it in metrics, logs and docs, whichever transport carried it. The REST
 * binding names the operationId of the official OpenAPI (openapi/), from which the path and schemas are read; the
 * gRPC binding is the generated method path. The REST routes, their 405 answers and the gRPC request pipeline are
 * all derived from this table.
 */
export type OperationName = 'CreateKeyCapsule' | 'GetKeyCapsule' | 'CreateKeyShare' | 'CreateNonce' | 'GetKeyShare';

/** The name logged for a request refused before it reached an operation (parser errors, unknown paths). */
export const UNKNOWN_OPERATION = 'unknown';
export type LoggedOperation = OperationName | typeof UNKNOWN_OPERATION;

/** The listeners, each named the same on both transports (README "Health, metrics, logs"). */
export type ListenerName = 'capsules-sender' | 'capsules-recipient' | 'shares';

export interface OperationSpec {
  readonly name: OperationName;
  readonly listener: ListenerName;
  /** The OpenAPI operationId and HTTP method; the path comes from the OpenAPI document. */
  readonly rest: { readonly operationId: string; readonly method: 'GET' | 'POST' };
  /** The gRPC method path, `/package.Service/Method`. */
  readonly grpcPath: string;
}

/**
 * Each operation's listener, also as a type: a listener's REST route table must name exactly its operations
 * (rest/operation-routes.ts), so an operation added here without a handler, or a handler on the wrong listener,
 * does not compile.
 */
const LISTENER_OF = {
  CreateKeyCapsule: 'capsules-sender',
  GetKeyCapsule: 'capsules-recipient',
  CreateKeyShare: 'shares',
  CreateNonce: 'shares',
  GetKeyShare: 'shares',
} as const satisfies Record<OperationName, ListenerName>;

/** The operations a listener serves, as a type. */
export type OperationOf<L extends ListenerName> = {
  [K in OperationName]: (typeof LISTENER_OF)[K] extends L ? K : never;
}[OperationName];

const operation = (
  name: OperationName,
  operationId: string,
  method: 'GET' | 'POST',
  grpc: { readonly path: string },
): OperationSpec => ({ name, listener: LISTENER_OF[name], rest: { operationId, method }, grpcPath: grpc.path });

const CAPSULE_SENDER = KeyCapsuleSenderServiceService;
const CAPSULE_RECIPIENT = KeyCapsuleRecipientServiceService;
const SHARE_SENDER = KeyShareSenderServiceService;
const SHARE_RECIPIENT = KeyShareRecipientServiceService;

/** name, OpenAPI operationId and method, generated gRPC method. */
export const OPERATIONS: Readonly<Record<OperationName, OperationSpec>> = {
  CreateKeyCapsule: operation('CreateKeyCapsule', 'createCapsule', 'POST', CAPSULE_SENDER.createKeyCapsule),
  GetKeyCapsule: operation('GetKeyCapsule', 'getCapsuleByTransactionId', 'GET', CAPSULE_RECIPIENT.getKeyCapsule),
  CreateKeyShare: operation('CreateKeyShare', 'createKeyShare', 'POST', SHARE_SENDER.createKeyShare),
  CreateNonce: operation('CreateNonce', 'createNonce', 'POST', SHARE_RECIPIENT.createNonce),
  GetKeyShare: operation('GetKeyShare', 'getKeyShareByShareId', 'GET', SHARE_RECIPIENT.getKeyShare),
};

export const OPERATION_NAMES = Object.keys(OPERATIONS) as readonly OperationName[];

/** The operations a listener serves, in table order. */
export const operationsOf = (listener: ListenerName): readonly OperationSpec[] =>
  OPERATION_NAMES.map((name) => OPERATIONS[name]).filter((spec) => spec.listener === listener);

/** The operation of a gRPC method path, if it is one (health and reflection methods are not). */
export const findOperationForGrpcPath = (path: string): OperationSpec | undefined =>
  OPERATION_NAMES.map((name) => OPERATIONS[name]).find((candidate) => candidate.grpcPath === path);

/** The operation of a gRPC method path; a generated method the table does not name is a programming error. */
export function operationForGrpcPath(path: string): OperationSpec {
  const spec = findOperationForGrpcPath(path);
  if (!spec) {
    throw new Error(`no operation is described for the gRPC method ${path}`);
  }
  return spec;
}
