import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { expect } from 'chai';
import { queuePerConnection } from '../../src/transport/connection-limits.js';
import { createTurnScheduler } from '../../src/transport/turn-scheduler.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('turn scheduler: queued work a little at a time, one connection after another', () => {
  it('runs each connection’s tasks in order, taking one task of each connection in turn', async () => {
    const scheduler = createTurnScheduler();
    const ran: string[] = [];
    for (const name of ['a1', 'a2', 'a3']) {
      scheduler.schedule('a', () => ran.push(name));
    }
    scheduler.schedule('b', () => ran.push('b1'));
    scheduler.schedule('c', () => ran.push('c1'));
    expect(ran, 'nothing runs in the turn that queued it').to.deep.equal([]);
    await nextTurn();
    expect(ran).to.deep.equal(['a1', 'b1', 'c1', 'a2', 'a3']);
    expect(scheduler.pending).to.equal(0);
  });

  it('stops a slice when its budget is spent and runs the rest in later turns', async () => {
    let clock = 0;
    const scheduler = createTurnScheduler(5, () => clock);
    let ran = 0;
    for (let i = 0; i < 5; i++) {
      scheduler.schedule(i, () => {
        ran++;
        clock += 3;
      });
    }
    await nextTurn();
    expect(ran, 'one slice: 3 ms, then 6 ms > 5 ms').to.equal(2);
    await nextTurn();
    expect(ran).to.equal(4);
    await nextTurn();
    expect(ran).to.equal(5);
    expect(scheduler.pending).to.equal(0);
  });
});

/** A socket, request and response as far as the queue uses them. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableNeedDrain = false;
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}
class FakeResponse extends EventEmitter {
  constructor(readonly id: number) {
    super();
  }
}

describe('per-connection queue of pipelined REST requests', () => {
  const setup = (limits = { maxConcurrent: 2, maxQueued: 3 }) => {
    const socket = new FakeSocket();
    const started: FakeResponse[] = [];
    let overflows = 0;
    const handle = queuePerConnection<{ socket: Socket }, FakeResponse>(
      (_request, response) => started.push(response),
      limits,
      { scheduler: createTurnScheduler(), onOverflow: () => overflows++ },
    );
    const send = (id: number): FakeResponse => {
      const response = new FakeResponse(id);
      handle({ socket: socket as unknown as Socket }, response);
      return response;
    };
    return { socket, started, send, overflows: () => overflows };
  };

  it('has at most maxConcurrent requests of a connection in the handler, in order, the next after one ends', async () => {
    const { started, send } = setup();
    const responses = [1, 2, 3, 4].map(send);
    await nextTurn();
    expect(started.map((r) => r.id)).to.deep.equal([1, 2]);
    responses[0]?.emit('close');
    await nextTurn();
    expect(started.map((r) => r.id)).to.deep.equal([1, 2, 3]);
  });

  it('closes a connection with more than maxQueued requests waiting, and starts none of them', async () => {
    const { socket, started, send, overflows } = setup();
    [1, 2, 3, 4, 5].forEach(send);
    expect(socket.destroyed).to.equal(false);
    send(6);
    expect(socket.destroyed).to.equal(true);
    expect(overflows()).to.equal(1);
    await nextTurn();
    expect(started, 'the requests scheduled before the close are dropped with the connection').to.deep.equal([]);
  });

  it('starts no request while the socket holds more unsent answers than its high-water mark, until drain', async () => {
    const { socket, started, send } = setup();
    const responses = [1, 2, 3].map(send);
    await nextTurn();
    expect(started.map((r) => r.id)).to.deep.equal([1, 2]);
    socket.writableNeedDrain = true;
    responses[0]?.emit('close');
    await nextTurn();
    expect(
      started.map((r) => r.id),
      'the client does not read its answers',
    ).to.deep.equal([1, 2]);
    socket.writableNeedDrain = false;
    socket.emit('drain');
    await nextTurn();
    expect(started.map((r) => r.id)).to.deep.equal([1, 2, 3]);
  });
});
