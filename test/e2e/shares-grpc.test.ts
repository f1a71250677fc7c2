import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { KeyShareRecipientServiceClient, KeyShareSenderServiceClient } from '../../gen/cdoc2/shares/v1/shares.js';
import { expectGrpcStatus } from '../support/grpc-assertions.js';
import {
  grpcCreateNonce,
  grpcCreateShare,
  shareRecipientClient,
  shareSenderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';

/**
 * What only the gRPC wire of the shares server has: messages no JSON body or path can express (a missing key
 * share, an empty share id). The behaviour both wires share is in shares.test.ts, run over each.
 */
describe('shares server (CSS) over gRPC only (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;
  let sender: KeyShareSenderServiceClient;
  let recipient: KeyShareRecipientServiceClient;

  before(async () => {
    server = await startTestServer();
    sender = shareSenderClient(server.pki, server.sharePorts.grpc);
    recipient = shareRecipientClient(server.pki, server.sharePorts.grpc);
  });
  after(async () => {
    sender.close();
    recipient.close();
    await server.close();
  });

  it('answers INVALID_ARGUMENT to CreateKeyShare without a key share', async () => {
    await expectGrpcStatus(grpcCreateShare(sender, {}), status.INVALID_ARGUMENT);
    await expectGrpcStatus(
      grpcCreateShare(sender, { requestedExpiryTime: new Date(Date.now() + 86_400_000) }),
      status.INVALID_ARGUMENT,
    );
  });

  it('answers INVALID_ARGUMENT to CreateNonce with an empty share id, and to CreateKeyShare for an empty recipient', async () => {
    await expectGrpcStatus(grpcCreateNonce(recipient, ''), status.INVALID_ARGUMENT);
    await expectGrpcStatus(
      grpcCreateShare(sender, { keyShare: { share: randomBytes(32), recipient: '' } }),
      status.INVALID_ARGUMENT,
    );
  });
});
