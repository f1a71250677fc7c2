import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A Python 3 that imports `modules` (Debian: python3-grpcio, python3-grpc-tools, python3-cryptography; `.ci/run`
 * installs them), or undefined. The first `python3` on PATH may be another installation than the one apt-get
 * fills, so the system one is tried too.
 */
export async function findPython(modules: readonly string[]): Promise<string | undefined> {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const usable = await run(candidate, ['-c', `import ${modules.join(', ')}`]).then(
      () => true,
      () => false,
    );
    if (usable) {
      return candidate;
    }
  }
  return undefined;
}
