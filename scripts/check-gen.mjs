// Fails when gen/ is not what `npm run gen` would write from proto/ (generated code is committed, never edited).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

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
  if (stale.length > 0) {
    console.error(`gen/ is stale (${stale.join(', ')}): run \`npm run gen\` and commit the result`);
    process.exit(1);
  }
  console.log(`gen/ is fresh (${actual.size} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
