import pino from 'pino';
import pretty from 'pino-pretty';

export type Logger = pino.Logger;

export interface LogOptions {
  readonly level: string;
  readonly pretty: boolean;
}

/**
 * JSON-lines logging (pino). Redaction is a second line of defence: nothing that carries key material, capsules,
 * tickets or nonces is ever passed to the logger in the first place.
 */
export function createLogger(
  { level, pretty: humanReadable }: LogOptions,
  destination?: pino.DestinationStream,
): Logger {
  // `log.pretty`: one coloured, human-readable line per entry (for a developer's terminal, not for collection).
  const stream = humanReadable ? pretty({ colorize: true, destination: destination ?? 1, sync: true }) : destination;
  return pino(
    {
      level,
      base: { service: 'cdoc2-keyserver' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-cdoc2-auth-ticket"]', 'req.headers["x-cdoc2-auth-x5c"]'],
        censor: '[redacted]',
      },
    },
    stream,
  );
}
