import { KeyShareRecipientServiceService, KeyShareSenderServiceService } from '../../../gen/cdoc2/shares/v1/shares.js';
import { invalidArgument } from '../../domain/errors.js';
import type { ShareService } from '../../domain/shares/share-service.js';
import type { RequestPipeline } from '../request-pipeline.js';
import { bindService, type BoundService } from './unary.js';

/** The sender interface of the shares server (CDOC2 spec "CDOC2 CSS" > "Sender interface") on gRPC. */
export function createShareSenderGrpcService(service: ShareService, pipeline: RequestPipeline): BoundService {
  return bindService(
    KeyShareSenderServiceService,
    {
      createKeyShare: async (request) => {
        if (!request.keyShare) {
          throw invalidArgument('key_share is required');
        }
        const created = await service.create(
          { share: request.keyShare.share, recipient: request.keyShare.recipient },
          request.requestedExpiryTime,
        );
        return {
          shareId: created.shareId,
          expiryTime: created.expiryTime,
          expiryTimeAdjusted: created.expiryTimeAdjusted,
        };
      },
    },
    pipeline,
  );
}

/** The recipient interface of the shares server on gRPC: nonces, and shares for a verified auth ticket. */
export function createShareRecipientGrpcService(service: ShareService, pipeline: RequestPipeline): BoundService {
  return bindService(
    KeyShareRecipientServiceService,
    {
      createNonce: async (request) => ({ nonce: await service.createNonce(request.shareId) }),
      getKeyShare: async (request) => {
        const share = await service.get(request.shareId, request.authTicket, request.authX5c);
        return { keyShare: { share: Buffer.from(share.share), recipient: share.recipient } };
      },
    },
    pipeline,
  );
}
