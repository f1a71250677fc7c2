import { getChannelzHandlers, type Server } from '@grpc/grpc-js';
import type { TLSSocket } from 'node:tls';
import { resetBudget } from './reset-guard.js';

/**
 * How often the listener reads each connection's failed streams from grpc-js's channelz. An attacker's connection
 * that nghttp2 gave up on (GOAWAY after about 1,000 resets, then no more reading) is closed within this (README
 * "Limits"), not by the keepalive ping 40 s later.
 */
export const FAILED_STREAM_SWEEP_MS = 500;

/**
 * A connection is asked about only once it has read this much since it was last asked. A failed stream costs its
 * client at least a 9-byte HEADERS frame header and a byte of header block, so at most ~400 failures can be
 * uncounted at any moment, below the burst of the budget; idle connections (most of them) cost nothing.
 */
export const SWEEP_READ_GATE_BYTES = 4096;

type ChannelzCall = 'GetServerSockets' | 'GetSocket';
/** The two channelz handlers the sweep asks (grpc-js's own, from `getChannelzHandlers()`). */
export type ChannelzHandlers = Pick<ReturnType<typeof getChannelzHandlers>, ChannelzCall>;
type Request<Name extends ChannelzCall> = Parameters<ChannelzHandlers[Name]>[0]['request'];
type Answer<Name extends ChannelzCall> = Parameters<Parameters<ChannelzHandlers[Name]>[1]>[1];

/**
 * Calls one of grpc-js's public channelz handlers in-process (the same handlers grpc-js serves as the channelz
 * service, which this server does not expose): they read only the `request` of the call they are given. A
 * handler throws when it reads a connection that is being destroyed (Node has already detached its socket from
 * the HTTP/2 session, which grpc-js unregisters only at its 'close'): that connection is gone, and the sweep must
 * never take the process down with it (the server exited during a 60 s `npm run flood` before this catch).
 */
function askChannelz<Name extends ChannelzCall>(
  handlers: ChannelzHandlers,
  name: Name,
  request: Request<Name>,
): Answer<Name> | undefined {
  let answer: Answer<Name> | undefined;
  const handler = handlers[name] as (
    call: { request: Request<Name> },
    callback: (error: unknown, value?: Answer<Name>) => void,
  ) => void;
  try {
    handler({ request }, (error, value) => {
      answer = error ? undefined : value;
    });
  } catch {
    return undefined;
  }
  return answer;
}

export interface SweepOptions {
  readonly intervalMs?: number;
  /** grpc-js's channelz handlers by default; a test gives its own. */
  readonly handlers?: ChannelzHandlers;
}

interface Swept {
  /** The listener's key of the connection (`address|port`), from channelz's remote address. */
  readonly key: string;
  failed: number;
  readAtLastAsk: number;
  readonly budget: { take(count?: number): boolean };
}

/**
 * The second half of the rapid-reset guard (README "Limits"): grpc-js answers a call to a method that does not
 * exist (UNIMPLEMENTED) before any interceptor sees it, so resets of such calls never reach reset-guard.ts. grpc-js
 * does count them: channelz's `streams_failed` of a connection is every stream that ended without a status of
 * ours (the client reset it, or it named no method of this server). This sweep reads that count for each
 * connection, through grpc-js's public channelz handlers, and charges the same budget as the interceptor (a
 * token bucket of its own); `onOverBudget` gets the key of a connection past it.
 */
export function sweepFailedStreams(
  server: Pick<Server, 'getChannelzRef'>,
  connections: ReadonlyMap<string, { readonly socket: Pick<TLSSocket, 'bytesRead'> }>,
  onOverBudget: (key: string) => void,
  { intervalMs = FAILED_STREAM_SWEEP_MS, handlers = getChannelzHandlers() }: SweepOptions = {},
): { stop(): void; sweep(): void } {
  const serverId = String(server.getChannelzRef().id);
  const swept = new Map<number, Swept>();

  const socketData = (socketId: number) =>
    askChannelz(handlers, 'GetSocket', { socket_id: String(socketId), summary: true })?.socket ?? undefined;

  const sweep = (): void => {
    const seen = new Set<number>();
    let start = 0;
    for (;;) {
      const page = askChannelz(handlers, 'GetServerSockets', {
        server_id: serverId,
        start_socket_id: String(start),
        max_results: '1000',
      });
      for (const ref of page?.socket_ref ?? []) {
        const id = Number(ref.socket_id);
        seen.add(id);
        start = Math.max(start, id + 1);
        check(id, ref.name ?? '');
      }
      if (!page || page.end || (page.socket_ref ?? []).length === 0) {
        break;
      }
    }
    for (const id of swept.keys()) {
      if (!seen.has(id)) {
        swept.delete(id);
      }
    }
  };

  const check = (id: number, address: string): void => {
    let state = swept.get(id);
    let data: ReturnType<typeof socketData>;
    if (state === undefined) {
      data = socketData(id);
      const port = data?.remote?.tcpip_address?.port;
      if (port === undefined) {
        return;
      }
      // channelz names a server socket by the peer's address as Node reports it, the string the listener keys by.
      state = { key: `${address}|${port}`, failed: 0, readAtLastAsk: -1, budget: resetBudget() };
      swept.set(id, state);
    }
    const connection = connections.get(state.key);
    if (!connection) {
      return;
    }
    const read = connection.socket.bytesRead;
    if (state.readAtLastAsk >= 0 && read - state.readAtLastAsk < SWEEP_READ_GATE_BYTES) {
      return;
    }
    data ??= socketData(id);
    const failed = Number(data?.data?.streams_failed ?? state.failed);
    const added = failed - state.failed;
    state.failed = failed;
    state.readAtLastAsk = read;
    if (added > 0 && !state.budget.take(added)) {
      onOverBudget(state.key);
    }
  };

  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), sweep };
}
