import { Writable } from 'node:stream';

/**
 * A log destination for a test server (startTestServer's `logDestination`) that hands each JSON log line to
 * `onLine`, without its newline. pino writes whole lines, several at most per chunk.
 */
export const logSink = (onLine: (line: string) => void): Writable =>
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') {
          onLine(line);
        }
      }
      done();
    },
  });
