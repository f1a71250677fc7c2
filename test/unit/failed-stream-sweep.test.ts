import { Server } from '@grpc/grpc-js';
import { expect } from 'chai';
import {
  SWEEP_READ_GATE_BYTES,
  sweepFailedStreams,
  type ChannelzHandlers,
} from '../../src/transport/grpc/failed-stream-sweep.js';
import { RESET_BURST } from '../../src/transport/grpc/reset-guard.js';

/** A grpc-js server that never listens: the sweep asks it only for its channelz id. */
const server = new Server();

/** Channelz as grpc-js answers it for one server socket from 127.0.0.1:5000, with `failed()` failed streams. */
function channelz(failed: () => number, getSocket?: () => never): ChannelzHandlers & { asked: number } {
  const handlers = {
    asked: 0,
    GetServerSockets: (
      _call: unknown,
      callback: (error: null, value: { socket_ref: { socket_id: number; name: string }[]; end: boolean }) => void,
    ) => callback(null, { socket_ref: [{ socket_id: 1, name: '127.0.0.1' }], end: true }),
    GetSocket: (
      _call: unknown,
      callback: (
        error: null,
        value: { socket: { remote: { tcpip_address: { port: number } }; data: { streams_failed: number } } },
      ) => void,
    ) => {
      handlers.asked++;
      if (getSocket) {
        getSocket();
      }
      callback(null, { socket: { remote: { tcpip_address: { port: 5000 } }, data: { streams_failed: failed() } } });
    },
  };
  return handlers;
}

describe('failed-stream sweep (the rapid-reset budget for streams no interceptor sees)', () => {
  it('closes a connection once its failed streams pass the budget, asking only after it read enough to make them', () => {
    let failed = 100;
    const socket = { bytesRead: 10_000 };
    const closed: string[] = [];
    const handlers = channelz(() => failed);
    const sweep = sweepFailedStreams(server, new Map([['127.0.0.1|5000', { socket }]]), (key) => closed.push(key), {
      handlers,
    });
    try {
      sweep.sweep();
      expect(closed).to.deep.equal([]);
      failed = 100 + RESET_BURST;
      socket.bytesRead += SWEEP_READ_GATE_BYTES - 1;
      const asked = handlers.asked;
      sweep.sweep();
      expect(handlers.asked, 'a connection that read less than the gate is not asked').to.equal(asked);
      expect(closed).to.deep.equal([]);
      socket.bytesRead += 1;
      sweep.sweep();
      expect(closed).to.deep.equal(['127.0.0.1|5000']);
    } finally {
      sweep.stop();
    }
  });

  it('never throws when channelz throws for a connection being destroyed (its HTTP/2 session has no socket any more)', () => {
    const closed: string[] = [];
    const handlers = channelz(
      () => 0,
      () => {
        throw new TypeError("Cannot read properties of undefined (reading 'remoteAddress')");
      },
    );
    const sweep = sweepFailedStreams(
      server,
      new Map([['127.0.0.1|5000', { socket: { bytesRead: 0 } }]]),
      (key) => closed.push(key),
      { handlers },
    );
    try {
      expect(() => sweep.sweep()).not.to.throw();
      expect(handlers.asked).to.equal(1);
      expect(closed).to.deep.equal([]);
    } finally {
      sweep.stop();
    }
  });
});
