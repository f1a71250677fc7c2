import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The package's root directory (where package.json and openapi/ are), from sources or from dist/ alike. */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'openapi'))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error('cannot find the cdoc2-keyserver package root (package.json next to openapi/)');
    }
    dir = parent;
  }
  return dir;
}

export const openApiFile = (name: string): string => join(packageRoot(), 'openapi', name);

/** This package's name and version (package.json), for `--version` and /info. */
export function packageInfo(): { name: string; version: string; license: string } {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license: string;
  };
}
