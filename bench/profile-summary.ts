// Summarises a V8 CPU profile (`node --cpu-prof`): self time by package and the hottest functions. The bench
// writes the server's profile when BENCH_CPU_PROF names a directory; run `npx tsx bench/profile-summary.ts FILE`.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly hitCount?: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
}

/** `node_modules/@grpc/grpc-js/...` → `@grpc/grpc-js`; our own files by folder; V8 and Node internals by kind. */
function packageOf(url: string, functionName: string): string {
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules?.[1]) {
    return inModules[1];
  }
  const own = /\/(src\/[^/]+(?:\/[^/]+)?)\//.exec(url);
  if (own?.[1]) {
    return own[1];
  }
  if (url.startsWith('node:')) {
    return `node:${url.slice(5).split('/')[1] ?? url}`;
  }
  return url === '' ? `(${functionName || 'native'})` : url;
}

const file = process.argv[2];
if (!file) {
  throw new Error('usage: tsx bench/profile-summary.ts FILE.cpuprofile');
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const total = profile.samples.length;
const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0;
  const { functionName, url, lineNumber } = node.callFrame;
  const pkg = packageOf(url, functionName);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
  const name = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '')}:${lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
}
const top = (map: Map<string, number>, count: number): string[] =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)} %  ${name}`);
console.log(`${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`);
console.log('self time by package or folder:');
console.log(top(byPackage, 20).join('\n'));
console.log('hottest functions (self time):');
console.log(top(byFunction, 25).join('\n'));
