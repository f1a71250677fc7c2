// A flood run in a process of its own, so that the attackers' CPU (TLS, parsing the answers) is not spent on the
// event loop of the server under test, as it is not in a real attack: the tests' probes then measure the server.
// Started by `startAttackers` (attackers.ts) with one JSON argument; prints one JSON line with the result.
import { grpcBurst, openStreams, pipeline, rapidReset } from './abuse-clients.js';

export type Attack =
  | { readonly kind: 'pipeline'; readonly requests: number; readonly path: string }
  | { readonly kind: 'grpc-burst'; readonly calls: number; readonly path: string; readonly bodyHex: string }
  | { readonly kind: 'streams'; readonly streams: number }
  | { readonly kind: 'rapid-reset'; readonly path?: string };

export interface AttackPlan {
  readonly attack: Attack;
  readonly port: number;
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
  /** Attackers at once, each on a connection of its own; each reconnects and attacks again until the end. */
  readonly connections: number;
  readonly durationMs: number;
}

/** What the attackers saw: per kind of answer, how many (statuses for HTTP, answered/refused for gRPC). */
export type AttackResult = Record<string, number>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function round(plan: AttackPlan, deadline: number, result: AttackResult): Promise<void> {
  const { attack } = plan;
  const tls = {
    port: plan.port,
    ca: plan.ca,
    ...(plan.cert !== undefined && plan.key !== undefined ? { cert: plan.cert, key: plan.key } : {}),
  };
  const timeoutMs = Math.max(1, deadline - Date.now());
  const count = (name: string, n = 1): void => {
    result[name] = (result[name] ?? 0) + n;
  };
  count('connections');
  switch (attack.kind) {
    case 'pipeline':
      for (const status of await pipeline({ ...tls, requests: attack.requests, path: attack.path, timeoutMs })) {
        count(String(status));
      }
      return;
    case 'grpc-burst': {
      const { answered, refused } = await grpcBurst({
        ...tls,
        calls: attack.calls,
        path: attack.path,
        body: Buffer.from(attack.bodyHex, 'hex'),
        timeoutMs,
      });
      count('answered', answered);
      count('refused', refused);
      return;
    }
    case 'streams': {
      const { socket } = await openStreams({ ...tls, streams: attack.streams });
      await sleep(Math.min(1000, timeoutMs));
      socket.destroy();
      return;
    }
    case 'rapid-reset':
      await rapidReset({
        ...tls,
        durationMs: Math.min(1000, timeoutMs),
        then: 'vanish',
        ...(attack.path !== undefined ? { path: attack.path } : {}),
      });
      return;
  }
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as AttackPlan;
  const deadline = Date.now() + plan.durationMs;
  const result: AttackResult = {};
  await Promise.all(
    Array.from({ length: plan.connections }, async () => {
      while (Date.now() < deadline) {
        await round(plan, deadline, result).catch(() => sleep(20));
      }
    }),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

void main();
