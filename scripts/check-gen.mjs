// Fails when gen/ or the gRPC API reference is not what `npm run gen` would write from proto/ (generated files
// are committed, never edited).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { REFERENCE_FILE, renderReference } from './grpc-api-reference.mjs';

const root = new URL('..', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'cdoc2-gen-'));
const buf = join(root, 'node_modules', '.bin', 'buf');
try {
  execFileSync(buf, ['lint'], { cwd: root, stdio: 'inherit' });
  execFileSync(buf, ['generate', '--output', out], { cwd: root, stdio: 'inherit' });
  const files = (dir) =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? files(path) : [path];
    });
  const expected = new Map(files(join(out, 'gen')).map((file) => [relative(join(out, 'gen'), file), file]));
  const actual = new Map(files(join(root, 'gen')).map((file) => [relative(join(root, 'gen'), file), file]));
  const stale = [
    ...[...expected.keys()].filter(
      (name) => !actual.has(name) || !readFileSync(actual.get(name)).equals(readFileSync(expected.get(name))),
    ),
    ...[...actual.keys()].filter((name) => !expected.has(name)),
  ];
  const reference = join(root, REFERENCE_FILE);
  let written = '';
  try {
    written = readFileSync(reference, 'utf8');
  } catch {
    // missing: stale
  }
  if (written !== renderReference(root)) {
    stale.push(REFERENCE_FILE);
  }
  if (stale.length > 0) {
    console.error(`generated files are stale (${stale.join(', ')}): run \`npm run gen\` and commit the result`);
    process.exit(1);
  }
  console.log(`gen/ and ${REFERENCE_FILE} are fresh (${actual.size + 1} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
