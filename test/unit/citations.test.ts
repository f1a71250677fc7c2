import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';

const ROOT = resolve(__dirname, '..', '..');

/** The folders whose comments and text cite rules (README "Where the rules come from"). */
const FOLDERS = [
  'src',
  'proto',
  'scripts',
  'test',
  'docs',
  'migrations',
  'bench',
  'openapi',
  'deploy',
  'examples',
  'gen',
];

/** Every text file under `folder` (a NUL byte marks a binary one), relative to the root. */
function textFiles(folder: string): Array<{ path: string; text: string }> {
  return readdirSync(join(ROOT, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory()) {
      return entry.name === 'node_modules' ? [] : textFiles(path);
    }
    const bytes = readFileSync(join(ROOT, path));
    return bytes.includes(0) ? [] : [{ path, text: bytes.toString('utf8') }];
  });
}

/**
 * A comment's text as one line: a line break and the next line's comment marker (` * `, `//`, `#`) become one space,
 * so that a citation broken across two comment lines is read whole.
 */
const joinLines = (text: string): string => text.replace(/[ \t]*\r?\n[ \t]*(?:\*(?!\/)|\/\/+|#+)?[ \t]*/g, ' ');

/** The headings of README.md, outside fenced code blocks (whose shell comments also start with `#`). */
function readmeHeadings(readme: string): string[] {
  let fenced = false;
  return readme.split('\n').flatMap((line) => {
    if (line.startsWith('```')) {
      fenced = !fenced;
      return [];
    }
    const heading = fenced ? null : /^#{1,6} (.+)$/.exec(line);
    return heading ? [(heading[1] as string).trim()] : [];
  });
}

// The patterns are put together from parts, so that this file does not cite anything itself.
/** A path to a document of a `spec/` folder: the repository has none, so a reader could not open it. */
const SPEC_DOCUMENT = new RegExp(['\\bspec', '[\\w-]+\\.md\\b'].join('/'), 'g');
/** `spec` and a quoted section title: a section of no document a reader can find (the public one is `CDOC2 spec`). */
const BARE_SPEC_CITATION = new RegExp(['(?<!CDOC2 )\\bspec', '"[^"]+"'].join(' '), 'g');
/** `README "Limits"` or `README's "Limits"`. */
const README_CITATION = new RegExp(['\\bREADME', `(?:'s)?\\s+"([^"]+)"`].join(''), 'g');
/** `CDOC2 spec`, a chapter's title in double quotes, then `>` and a section's title (or two, joined by `and`). */
const SPEC_CITATION = new RegExp(['\\bCDOC2 spec', '"([^"]+)"((?:\\s*(?:>|and)\\s*"[^"]+")*)'].join(' '), 'g');

/**
 * The chapters of the public CDOC2 specification (https://open-eid.github.io/CDOC2/) that comments cite, with their
 * section titles as published; a citation must name a chapter and sections of it that exist.
 */
const CDOC2_SPEC: Readonly<Record<string, readonly string[]>> = {
  'CDOC2 CCS': [
    'Introduction',
    'CCS operating principles',
    'Server state',
    'Server interfaces',
    'Sender interface',
    'Recipient interface',
    'Interface security',
    'Server identification and trust',
    'Recipient authentication',
    'The KeyServerCapsule authentication scheme',
  ],
  'CDOC2 CSS': [
    'Introduction',
    'CSS operating principles',
    'Server state',
    'Server interfaces',
    'Sender interface',
    'Recipient interface',
    'Interface security',
    'Server identification and trust',
    'Recipient authentication',
    'The KeySharesCapsule authentication scheme',
    'ETSI semantics identifier',
    'Private company issuer identifier',
  ],
  'Client authentication protocol': [
    'Authentication protocol requirements',
    'Overview of the generic authentication protocol',
    'SD-JWT based CDOC2 authentication protocol',
    'Authentication data',
    'SD-JWT and selective disclosures',
    'Creating SD-JWT structure (authentication data and authentication signature)',
    'Presenting SD-JWT (creating authentication ticket)',
    'Verifying SD-JWT (verifying authentication ticket)',
    'Security of the protocol',
    'Protection against CSS server compromise and nonce reuse',
    'Protection against DOS attacks',
  ],
  'CDOC2 encryption schemes': [
    'Capsule',
    'Encryption schemes using Capsule Servers',
    'Encryption schemes with secret sharing',
    'SC07: Encryption scheme with (n-of-n) secret shared decryption key',
    'SC08: (WIP) Encryption scheme with t-of-n secret shared decryption key',
  ],
  'CDOC2 container format': ['Capsule types'],
  'Cryptographic details': ['KeyServerCapsule', 'KeySharesCapsule'],
  'Appendix C: Key Capsules API': [],
  'Appendix E: Key Shares API': [],
};

/** `file: what is wrong` for every citation of `pattern` in `files` that `judge` refuses. */
function refused(
  files: ReadonlyArray<{ path: string; text: string }>,
  pattern: RegExp,
  judge: (match: RegExpMatchArray) => string | undefined,
): { found: number; wrong: string[] } {
  let found = 0;
  const wrong = files.flatMap(({ path, text }) =>
    [...joinLines(text).matchAll(pattern)].flatMap((match) => {
      found += 1;
      const problem = judge(match);
      return problem ? [`${path}: ${problem}`] : [];
    }),
  );
  return { found, wrong };
}

describe('citations', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const headings = readmeHeadings(readme);
  const files = [...FOLDERS.flatMap(textFiles), { path: 'README.md', text: readme }];
  const sourceFiles = files.filter(({ path }) => /^(?:src|proto|migrations|scripts|bench)\//.test(path));

  /** A README section by its heading, or by the part of a heading before a parenthesis (`"The shares server"`). */
  const readmeJudge = (match: RegExpMatchArray): string | undefined => {
    const name = match[1] as string;
    const exists = headings.some((heading) => heading === name || heading.startsWith(`${name} (`));
    return exists ? undefined : `README has no section "${name}"`;
  };

  const specJudge = (match: RegExpMatchArray): string | undefined => {
    const chapter = match[1] as string;
    const sections = CDOC2_SPEC[chapter];
    if (!sections) {
      return `the CDOC2 specification has no chapter "${chapter}" (or it is not listed here)`;
    }
    const named = [...(match[2] as string).matchAll(/"([^"]+)"/g)].map((section) => section[1] as string);
    const unknown = named.filter((section) => !sections.includes(section));
    return unknown.length > 0 ? `"${chapter}" has no section "${unknown.join('", "')}"` : undefined;
  };

  it('cites no document of a spec/ folder, which a reader of the repository could not open', () => {
    const cited = files.flatMap(({ path, text }) =>
      [...text.matchAll(SPEC_DOCUMENT)].map((match) => `${path}: ${match[0]}`),
    );
    expect(cited).to.deep.equal([]);
  });

  it('cites the specification only as the public CDOC2 specification, never as a bare "spec"', () => {
    const cited = files.flatMap(({ path, text }) =>
      [...joinLines(text).matchAll(BARE_SPEC_CITATION)].map((match) => `${path}: ${match[0]}`),
    );
    expect(cited).to.deep.equal([]);
  });

  it('cites only README sections that exist, from the code, the protos, the migrations and the scripts', () => {
    const { found, wrong } = refused(sourceFiles, README_CITATION, readmeJudge);
    expect(found, 'the check found almost no citation: is the pattern still right?').to.be.greaterThan(30);
    expect(wrong).to.deep.equal([]);
  });

  it('cites only chapters and sections of the public CDOC2 specification that exist', () => {
    const { found, wrong } = refused(files, SPEC_CITATION, specJudge);
    expect(found, 'the check found almost no citation: is the pattern still right?').to.be.greaterThan(15);
    expect(wrong).to.deep.equal([]);
  });

  it('reads headings outside code blocks only', () => {
    expect(headings).to.include.members(['Configuration', 'Limits', 'The auth ticket', 'Where the rules come from']);
    expect(headings.some((heading) => heading.startsWith('Store ('))).to.equal(false);
  });

  it('recognises what it looks for, also across comment lines (each check can fail)', () => {
    const cite = (...parts: string[]): string => parts.join(' ');
    const sample = [
      `/** Where (${cite('README', '"No such section"')}) and (${['spec', 'capsule-server.md'].join('/')}). */`,
      `/**\n * Bounds (${cite('README')}\n * "Limits") and (${cite('CDOC2 spec', '"CDOC2 CCS"')}\n * > "Interface security"`,
      ` * and "No such part"), (${cite('CDOC2 spec', '"No such chapter"')}).\n */`,
    ].join('\n');
    const files = [{ path: 'sample.ts', text: sample }];
    expect([...sample.matchAll(SPEC_DOCUMENT)]).to.have.length(1);
    expect([
      ...`(${cite('spec', '"Recipient: get"')}) (${cite('CDOC2 spec', '"CDOC2 CSS"')})`.matchAll(BARE_SPEC_CITATION),
    ]).to.have.length(1);
    expect(refused(files, README_CITATION, readmeJudge)).to.deep.equal({
      found: 2,
      wrong: ['sample.ts: README has no section "No such section"'],
    });
    expect(refused(files, SPEC_CITATION, specJudge)).to.deep.equal({
      found: 2,
      wrong: [
        'sample.ts: "CDOC2 CCS" has no section "No such part"',
        'sample.ts: the CDOC2 specification has no chapter "No such chapter" (or it is not listed here)',
      ],
    });
  });
});
