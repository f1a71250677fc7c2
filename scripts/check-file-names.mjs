// Source file names are kebab-case (README "Architecture"); gen/ follows the proto files' names.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+)*$/;
const bad = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      walk(path);
    } else if (/\.(ts|mjs|cjs|js)$/.test(name) && !KEBAB.test(name)) {
      bad.push(relative(root, path));
    }
  }
};
for (const dir of ['src', 'test', 'migrations', 'scripts', 'bench']) {
  try {
    walk(join(root, dir));
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
}
if (bad.length > 0) {
  console.error(`file names must be kebab-case: ${bad.join(', ')}`);
  process.exit(1);
}
