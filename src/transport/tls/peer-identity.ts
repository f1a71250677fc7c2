import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { RecipientKey } from '../../domain/capsules/recipient-key.js';
import { LruCache } from '../../domain/lru-cache.js';
import { recipientKeyFromCertificate } from './recipient-key-from-certificate.js';
import { subjectForLog } from './subject-for-log.js';

/**
 * What a request needs to know of its client certificate, derived once per certificate instead of once per
 * request: parsing the certificate for the recipient key and again for the log subject was most of the recipient
 * path's time. Nothing here is a trust decision: the certificate is still checked on every request through the
 * trust port (which remembers its own verdicts, src/pki/certificate-trust.ts, for as long as they hold).
 */
export interface PeerIdentity {
  /** DER of the client certificate. */
  readonly der: Buffer;
  /** DER of the certificates the client sent after its own (REST only: grpc-js exposes the leaf alone). */
  readonly presentedChain: readonly Buffer[];
  readonly recipientKey: RecipientKey;
  /** The certificate's subject without personal names, for request logs. */
  readonly logSubject: string | undefined;
}

/** Identities remembered by certificate fingerprint (an entry is well under 1 KiB). */
const MAX_IDENTITIES = 4096;

/** By SHA-256 fingerprint, as Node's peer certificate object carries it. */
const byFingerprint = new LruCache<string, PeerIdentity>(MAX_IDENTITIES);

/** Per TLS connection: the connection's certificate cannot change, and the entry goes with the socket. */
const bySocket = new WeakMap<TLSSocket, PeerIdentity | null>();

/** The intermediates the client sent after its certificate, as Node links them (self-signed roots end the list). */
function presentedChainOf(certificate: DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  let current = certificate;
  while (current.issuerCertificate && current.issuerCertificate !== current && chain.length < 8) {
    current = current.issuerCertificate;
    chain.push(current.raw);
  }
  return chain;
}

/** The identity of a peer certificate (grpc-js's auth context hands out Node's certificate object per call). */
export function peerIdentityOf(certificate: { readonly raw: Buffer; readonly fingerprint256: string }): PeerIdentity {
  const key = certificate.fingerprint256;
  const known = byFingerprint.get(key);
  if (known) {
    return known;
  }
  const identity: PeerIdentity = {
    der: certificate.raw,
    presentedChain: [],
    recipientKey: recipientKeyFromCertificate(certificate.raw),
    logSubject: subjectForLog(certificate.raw),
  };
  byFingerprint.set(key, identity);
  return identity;
}

/**
 * The identity of the certificate a TLS connection's client presented, read from the socket on the connection's
 * first request only; undefined when it presented none.
 */
export function socketPeerIdentity(socket: TLSSocket): PeerIdentity | undefined {
  const known = bySocket.get(socket);
  if (known !== undefined) {
    return known ?? undefined;
  }
  const certificate = socket.getPeerCertificate(true);
  // A destroyed socket answers with null or an empty object. The chain is this connection's own: another
  // connection may present the same certificate with other intermediates.
  const identity = certificate?.raw
    ? { ...peerIdentityOf(certificate), presentedChain: presentedChainOf(certificate) }
    : undefined;
  bySocket.set(socket, identity ?? null);
  return identity;
}
