// test-pki.ts (loaded by test-server.ts) loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { status, type ServiceError } from '@grpc/grpc-js';
import type {
  KeyCapsuleRecipientServiceClient,
  KeyCapsuleSenderServiceClient,
} from '../../gen/cdoc2/capsules/v1/capsules.js';
import type { KeyShareRecipientServiceClient, KeyShareSenderServiceClient } from '../../gen/cdoc2/shares/v1/shares.js';
import {
  recipientClient,
  senderClient,
  shareRecipientClient,
  shareSenderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';

/** What the cluster suites run against the cluster: whole server instances with their gRPC clients. */
/** One server instance and its gRPC clients. */
export interface Instance {
  readonly server: TestServer;
  readonly capsuleSender: KeyCapsuleSenderServiceClient;
  readonly capsuleRecipient: KeyCapsuleRecipientServiceClient;
  readonly shareSender: KeyShareSenderServiceClient;
  readonly shareRecipient: KeyShareRecipientServiceClient;
}

export async function startInstance(databaseUrl: string): Promise<Instance> {
  // A small cleanup batch, so that two instances cleaning at once pick the same rows.
  const server = await startTestServer({ database: { url: databaseUrl }, cleanup: { batchSize: 40 } });
  const { pki } = server;
  return {
    server,
    capsuleSender: senderClient(pki, server.ports.grpcSender),
    capsuleRecipient: recipientClient(pki, server.ports.grpcRecipient, pki.clients.ecP256),
    shareSender: shareSenderClient(pki, server.sharePorts.grpc),
    shareRecipient: shareRecipientClient(pki, server.sharePorts.grpc),
  };
}

export async function stopInstance(instance: Instance | undefined): Promise<void> {
  if (!instance) {
    return;
  }
  for (const client of [
    instance.capsuleSender,
    instance.capsuleRecipient,
    instance.shareSender,
    instance.shareRecipient,
  ]) {
    client.close();
  }
  await instance.server.close();
}

/** The gRPC status name of a failed call ('UNAVAILABLE', 'NOT_FOUND', …), or the error's text for anything else. */
export const grpcCode = (reason: unknown): string => status[(reason as ServiceError).code] ?? String(reason);
