import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { expect } from 'chai';

const ROOT = resolve(__dirname, '..', '..');

/** The repository's files: git's list when this is a checkout, else every file but dependencies. */
function repositoryFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  } catch {
    const walk = (folder: string): string[] =>
      readdirSync(join(ROOT, folder), { withFileTypes: true }).flatMap((entry) => {
        const path = folder === '' ? entry.name : `${folder}/${entry.name}`;
        if (entry.name === 'node_modules' || entry.name === '.git' || entry.name === 'dist') {
          return [];
        }
        return entry.isDirectory() ? walk(path) : [path];
      });
    return walk('');
  }
}

/** Text files only: a NUL byte marks a binary one. */
function textOf(path: string): string | undefined {
  const bytes = readFileSync(join(ROOT, path));
  return bytes.includes(0) ? undefined : bytes.toString('utf8');
}

/** An absolute path into a machine's own folders (a home, a work area, a mount), as a literal or in prose. */
const MACHINE_PATH = /(?:^|[\s'"`(=:])\/(?:work|home|Users|mnt|root)\/[^\s'"`)]*/gm;
/** A relative path that climbs: `../x`, `../../x`. */
const CLIMBING_PATH = /(?:\.\.\/)+[\w.@-]+/g;

/**
 * The repository stands on its own: a clone in any folder runs every test, so no file may name a path on the
 * machine it was written on, or climb out of the repository (test data lives in test/fixtures/). `.ci/run`
 * additionally runs the unit suite from a fresh clone in a temporary folder.
 */
describe('the repository stands on its own', () => {
  const files = repositoryFiles().filter((path) => !path.startsWith('gen/') && path !== 'package-lock.json');

  it('is read from a list of its files', () => {
    expect(files).to.include('README.md');
    expect(files).to.include('package.json');
  });

  it('names no absolute path of a machine folder in any file', () => {
    const found = files.flatMap((path) =>
      [...(textOf(path)?.matchAll(MACHINE_PATH) ?? [])].map((match) => `${path}: ${match[0].trim()}`),
    );
    expect(found).to.deep.equal([]);
  });

  it('has no relative path that leads out of the repository', () => {
    const found = files.flatMap((path) =>
      [...(textOf(path)?.matchAll(CLIMBING_PATH) ?? [])]
        .filter((match) => {
          const target = relative(ROOT, resolve(ROOT, dirname(path), match[0]));
          return target === '..' || target.startsWith(`..${sep}`);
        })
        .map((match) => `${path}: ${match[0]}`),
    );
    expect(found).to.deep.equal([]);
  });

  it('finds what the two checks look for (they can fail)', () => {
    // Put together here so that this file does not name such a path itself.
    expect(`read("/${'home'}/someone/vector.txt")`.match(MACHINE_PATH)).to.have.length(1);
    expect('see `../elsewhere/spec.md`'.match(CLIMBING_PATH)).to.deep.equal(['../elsewhere']);
  });
});
