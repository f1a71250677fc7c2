import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import type { AttackPlan, AttackResult } from './attacker-process.js';

const TSX = require.resolve('tsx/cjs');
const ATTACKER = join(__dirname, 'attacker-process.ts');

/**
 * Runs a flood (`attacker-process.ts`) in a process of its own and resolves with what the attackers saw. The
 * process runs at a lower priority: real attackers use other machines' CPUs, and on a shared two-core test machine
 * the attackers' own TLS and parsing would otherwise take the server's CPU and be measured as the server's lag.
 */
export function runAttack(plan: AttackPlan): Promise<AttackResult> {
  const child = spawn(process.execPath, ['--require', TSX, ATTACKER, JSON.stringify(plan)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) {
    setPriority(child.pid, 10);
  }
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      try {
        if (code !== 0) {
          throw new Error(`the attacker process exited with ${code}: ${err}`);
        }
        resolve(JSON.parse(out) as AttackResult);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}
