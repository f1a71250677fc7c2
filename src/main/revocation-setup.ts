import type { ResolvedConfig } from '../config/resolve-config.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logging/logger.js';
import { createOcspStapler, type OcspStapler } from '../pki/ocsp-stapler.js';
import { createRevocationChecker, type RevocationChecker } from '../pki/revocation-checker.js';

/** The revocation checker of client and signer certificates, and the OCSP stapler of the server's own certificate. */
export function startRevocation(
  config: ResolvedConfig,
  clock: Clock,
  logger: Logger,
): { readonly revocation: RevocationChecker; readonly stapler: OcspStapler | undefined } {
  const { revocation: settings } = config;
  const revocation = createRevocationChecker({
    mode: settings.mode,
    responderUrl: settings.responderUrl,
    timeoutMs: settings.timeout,
    maxResponseAgeMs: settings.maxResponseAge,
    cacheSize: settings.cacheSize,
    clock,
    logger: logger.child({ component: 'revocation' }),
  });
  const stapler = settings.stapling
    ? createOcspStapler({
        certChainPem: config.material.identity.certChain.toString('utf8'),
        responderUrl: settings.responderUrl,
        timeoutMs: settings.timeout,
        maxResponseAgeMs: settings.maxResponseAge,
        clock,
        logger: logger.child({ component: 'ocsp-stapling' }),
      })
    : undefined;
  return { revocation, stapler };
}
