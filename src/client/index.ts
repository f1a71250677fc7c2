/**
 * cdoc2-keyserver client library: the sender and recipient side of the CDOC2 key capsule server and shares
 * servers, with a trusted server list, TLS key pinning and one-signature share fetching (README "Client library and CLI").
 */
export { createKeyServerClient, type KeyServerClient, type KeyServerClientOptions } from './key-server-client.js';
export {
  loadServerList,
  parseServerList,
  type ServerCapsuleType,
  type ServerList,
  type ServerListInput,
  type ServerUrl,
  type TrustedServer,
} from './server-list.js';
export { pemIdentity, pkcs12Identity, type ClientIdentity } from './identity.js';
export { jwsAlgorithmOf, softwareSigner, softwareSignerFromFiles, type TicketSigner } from './signer.js';
export type { CreatedCapsule, ReceivedCapsule } from './capsules.js';
export type { Capsule } from '../domain/capsules/capsule.js';
export type { CapsuleType } from '../domain/capsules/capsule-types.js';
export {
  parseSharedSecret,
  type CreatedShare,
  type FetchSecretRequest,
  type KeyShare,
  type SharedSecret,
  type ShareProgress,
  type ShareReference,
  type SharingScheme,
  type StoreSecretRequest,
} from './shares.js';
export { shamirCombine, shamirSplit, xorAll, xorSplit, SecretSharingError } from './secret-sharing.js';
export {
  ClientError,
  InvalidRequestError,
  NotAuthorizedError,
  NotFoundError,
  OrganizationDuplicateError,
  ServerError,
  ServerListError,
  ServerNotTrustedError,
  ThresholdNotMetError,
  UnavailableError,
  type ClientErrorKind,
} from './errors.js';
