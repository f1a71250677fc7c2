import { request } from 'node:http';
import type { TestServer } from './test-server.js';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds, up to `ms`; returns whether it did. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      return false;
    }
    await sleep(100);
  }
  return true;
}

/** A sample's value on the management listener's /metrics, NaN when absent (`series` as written there). */
export async function metricValue(server: TestServer, series: string): Promise<number> {
  const body = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port: server.app.managementPort ?? 0, path: '/metrics' }, (answer) => {
      let text = '';
      answer.on('data', (chunk: Buffer) => (text += chunk.toString()));
      answer.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
  const line = body.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}
