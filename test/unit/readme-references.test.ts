import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'chai';

const ROOT = join(__dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** Every file under the repository's own folders (not node_modules, dist, var or .git), relative to the root. */
function repositoryFiles(dir = ROOT): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (['node_modules', 'dist', 'var', '.git', 'coverage', '.test-pki'].includes(name)) {
      return [];
    }
    const path = join(dir, name);
    return statSync(path).isDirectory() ? repositoryFiles(path) : [relative(ROOT, path)];
  });
}

/** A citation of a README section: README, then the heading in double quotes (built from parts, so that this file cites none itself). */
const CITATION = new RegExp(['README', '"([^"]+)"'].join(' '), 'g');

const headings = [...README.matchAll(/^#{1,4} (.+)$/gm)].map((match) => (match[1] as string).trim());

/** `README "Deployment"` names the heading "Deployment", or one that starts "Deployment (". */
const isHeading = (name: string): boolean =>
  headings.some((heading) => heading === name || heading.startsWith(`${name} (`));

/**
 * The paths the layout block of README "Architecture" names: an entry is a line whose first word is a folder
 * (`name/`) or a file (`name.ext`), two spaces of indentation a level; other lines continue a description.
 */
function layoutPaths(): string[] {
  const section = README.slice(README.indexOf('## Architecture'));
  const block = section.slice(section.indexOf('```\n') + 4, section.indexOf('\n```', section.indexOf('```\n') + 4));
  const parents: string[] = [];
  return block.split('\n').flatMap((line) => {
    const entry = /^( *)([\w.-]+\/|[\w-]+(?:\.[\w]+)+)(?: |$)/.exec(line);
    if (!entry) {
      return [];
    }
    const level = (entry[1] as string).length / 2;
    const name = entry[2] as string;
    parents.length = level;
    const path = [...parents, name].join('');
    if (name.endsWith('/')) {
      parents.push(name);
    }
    return [path];
  });
}

describe('README references', () => {
  const files = repositoryFiles();

  it('names only README sections that exist, wherever the code, tests, scripts or deployment files cite one', () => {
    const cited = files
      .filter((file) => /\.(ts|mjs|cjs|py|yaml|sql|service)$/.test(file) || file.startsWith('.ci/'))
      .flatMap((file) =>
        [...readFileSync(join(ROOT, file), 'utf8').matchAll(CITATION)].map((match) => `${file}: ${match[1] as string}`),
      );
    expect(cited.length, 'the check found no reference at all').to.be.greaterThan(3);
    const missing = cited.filter((reference) => !isHeading(reference.slice(reference.indexOf(': ') + 2)));
    expect(missing).to.deep.equal([]);
  });

  it('names only sections that exist when it refers to itself ("see …")', () => {
    const selfReferences = [...README.matchAll(/\b(?:see|under|in) "([^"]+)"/g)].map((match) => match[1] as string);
    // A section, or a paragraph that starts with its title in bold.
    expect(selfReferences.filter((name) => !isHeading(name) && !README.includes(`**${name}**`))).to.deep.equal([]);
  });

  it('names only repository files and folders that exist', () => {
    const paths = [
      ...README.matchAll(
        /`((?:src|test|proto|openapi|migrations|scripts|deploy|docs|examples|bench|gen|\.ci)\/[^`\s]*)`/g,
      ),
    ]
      .map((match) => (match[1] as string).replace(/[.,:;)]+$/, ''))
      .filter((path) => !/[*{<…]/.test(path));
    expect(paths.length).to.be.greaterThan(10);
    expect(paths.filter((path) => !existsSync(join(ROOT, path)))).to.deep.equal([]);
  });

  it('names only source files that exist, when it names one without its folder', () => {
    const names = new Set(files.map((file) => file.split('/').pop()));
    const bare = [...README.matchAll(/`([\w.-]+\.(?:ts|mjs|cjs|proto|sql|service))`/g)].map(
      (match) => match[1] as string,
    );
    expect(bare.filter((name) => !names.has(name))).to.deep.equal([]);
  });

  it('names only folders and files that exist in the layout of "Architecture"', () => {
    const paths = layoutPaths();
    expect(paths).to.include.members(['src/', 'src/domain/capsules/', 'src/transport/error-table.ts', 'test/support/']);
    expect(paths.filter((path) => !existsSync(join(ROOT, path)))).to.deep.equal([]);
  });

  it('describes every folder of src/ in the layout of "Architecture"', () => {
    const folders = [
      ...new Set(files.filter((file) => file.startsWith('src/')).map((file) => file.replace(/[^/]+$/, ''))),
    ];
    const described = new Set(layoutPaths());
    expect(folders.filter((folder) => !described.has(folder))).to.deep.equal([]);
  });
});
