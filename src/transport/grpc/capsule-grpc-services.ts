import {
  CapsuleType as ProtoCapsuleType,
  KeyCapsuleRecipientServiceService,
  KeyCapsuleSenderServiceService,
  type Capsule as ProtoCapsule,
} from '../../../gen/cdoc2/capsules/v1/capsules.js';
import type { CapsuleService } from '../../domain/capsules/capsule-service.js';
import type { Capsule } from '../../domain/capsules/capsule.js';
import { CAPSULE_TYPE_REGISTRY, CAPSULE_TYPES, type CapsuleType } from '../../domain/capsules/capsule-types.js';
import { invalidArgument, unauthenticated } from '../../domain/errors.js';
import type { RequestPipeline } from '../request-pipeline.js';
import type { ClientTrustCheck } from '../tls/tls-material.js';
import { bindService, type BoundService } from './unary.js';

/** Each registry entry's proto enum value; a protoName the generated enum does not have does not compile. */
const TO_PROTO = Object.fromEntries(
  CAPSULE_TYPES.map((type) => [type, ProtoCapsuleType[CAPSULE_TYPE_REGISTRY[type].protoName]]),
) as Readonly<Record<CapsuleType, ProtoCapsuleType>>;

const TO_DOMAIN: ReadonlyMap<number, CapsuleType> = new Map(CAPSULE_TYPES.map((type) => [TO_PROTO[type], type]));

function capsuleFromProto(capsule: ProtoCapsule | undefined): Capsule {
  if (!capsule) {
    throw invalidArgument('capsule is required');
  }
  const capsuleType = TO_DOMAIN.get(capsule.capsuleType);
  if (!capsuleType) {
    throw invalidArgument(`capsule_type ${capsule.capsuleType} is not a supported capsule type`);
  }
  return {
    recipientId: capsule.recipientId,
    ephemeralKeyMaterial: capsule.ephemeralKeyMaterial,
    capsuleType,
  };
}

/** The sender interface (CDOC2 spec "CDOC2 CCS" > "Sender interface"; OpenAPI operation `createCapsule`) on gRPC. */
export function createCapsuleSenderGrpcService(service: CapsuleService, pipeline: RequestPipeline): BoundService {
  return bindService(
    KeyCapsuleSenderServiceService,
    {
      createKeyCapsule: async (request) => {
        const created = await service.create(capsuleFromProto(request.capsule), request.requestedExpiryTime);
        return {
          transactionId: created.transactionId,
          expiryTime: created.expiryTime,
          expiryTimeAdjusted: created.expiryTimeAdjusted,
        };
      },
    },
    pipeline,
  );
}

/**
 * The recipient interface (CDOC2 spec "CDOC2 CCS" > "Recipient interface"; OpenAPI operation
 * `getCapsuleByTransactionId`) on gRPC, behind mutual TLS.
 */
export function createCapsuleRecipientGrpcService(
  service: CapsuleService,
  pipeline: RequestPipeline,
  assertClientTrusted: ClientTrustCheck,
): BoundService {
  return bindService(
    KeyCapsuleRecipientServiceService,
    {
      getKeyCapsule: async (request, context) => {
        // The listener refuses handshakes without a trusted certificate; this guards against a misconfiguration.
        const peer = context.peerIdentity;
        if (!peer) {
          throw unauthenticated('a client certificate is required');
        }
        // TLS verified the chain; this adds the explicit path rules and revocation (OCSP). grpc-js exposes only the
        // leaf, so intermediates must be among the configured issuers.
        await assertClientTrusted(peer.der, peer.presentedChain);
        const capsule = await service.get(request.transactionId, peer.recipientKey);
        return {
          capsule: {
            recipientId: Buffer.from(capsule.recipientId),
            ephemeralKeyMaterial: Buffer.from(capsule.ephemeralKeyMaterial),
            capsuleType: TO_PROTO[capsule.capsuleType],
          },
          expiryTime: capsule.expiryTime,
          expiryTimeAdjusted: capsule.expiryTimeAdjusted,
        };
      },
    },
    pipeline,
  );
}
