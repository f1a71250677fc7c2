import pino from 'pino';
import pretty from 'pino-pretty';

export type Logger = pino.Logger;

export interface LogOptions {
  readonly level: string;
  readonly pretty: boolean;
}

/**
 * JSON-lines logging (pino). There is no redaction list: request headers, bodies and messages are never handed to
 * the logger, and the request log line has a fixed set of fields (src/transport/request-pipeline.ts). A redaction
 * path would match nothing and only suggest a protection that is not there; instead the unit and e2e request-log
 * tests check that tickets, x5c certificates, Authorization values, keys and shares never reach a log line.
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
    },
    stream,
  );
}
