import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHttpUrl } from '../../src/transports/url';
import { SAMPLES_PRELUDE } from '../docs/prelude';

// Every ```ts / ```tsx / ```js block of README.md and docs/*.md must compile against the sources,
// with `tabwire` and `tabwire/*` mapped to src/ as tsconfig.json maps them.
// A ```js block (a file the docs tell Node to run, as `dev-server.mjs`) is
// checked as an .mjs file with checkJs: its calls are checked as TypeScript
// callers' are.
// A block that cannot compile on its own (a partial interface sketch) opts
// out with `<!-- no-check -->` on the line before its fence; opted-out blocks
// are listed in the output so they stay few.
//
// Each block becomes its own module in a temp dir (so two samples may both
// declare `rt`), next to a global script with the ambient names samples may
// use (test/docs/prelude.ts). The temp dir's node_modules is a link to the
// repo's, so `react`, `vitest` and the like resolve as they do here.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const docsDir = join(repo, 'docs');

interface Block {
  doc: string;
  index: number;
  line: number;
  lang: 'ts' | 'tsx' | 'js';
  code: string;
  skipped: boolean;
}

function extractBlocks(doc: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let index = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)/.exec(lines[i] ?? '');
    if (!open) continue;
    const [, indent = '', fence = '```', info = ''] = open;
    let end = i + 1;
    while (end < lines.length && !(lines[end] ?? '').trim().startsWith(fence)) end++;
    const lang = info.toLowerCase();
    if (lang === 'ts' || lang === 'tsx' || lang === 'typescript' || lang === 'js' || lang === 'javascript') {
      index++;
      let previous = i - 1;
      while (previous >= 0 && (lines[previous] ?? '').trim() === '') previous--;
      blocks.push({
        doc,
        index,
        line: i + 1,
        lang: lang === 'tsx' ? 'tsx' : lang === 'js' || lang === 'javascript' ? 'js' : 'ts',
        code: lines
          .slice(i + 1, end)
          .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
          .join('\n'),
        skipped: (lines[previous] ?? '').trim() === '<!-- no-check -->',
      });
    }
    i = end;
  }
  return blocks;
}

// The README's sample is the first code a user copies: it is checked too.
const docs = [
  'README.md',
  ...readdirSync(docsDir)
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const blocks = docs.flatMap((doc) => extractBlocks(doc, readFileSync(join(repo, doc), 'utf8')));
const checked = blocks.filter((b) => !b.skipped);
const skipped = blocks.filter((b) => b.skipped);

const fileOf = (b: Block): string =>
  `${b.doc.replace(/\W/g, '_')}.block${b.index}.${b.lang === 'js' ? 'mjs' : b.lang}`;
const label = (b: Block): string => `${b.doc} block ${b.index} (line ${b.line}, \`\`\`${b.lang})`;

let work: string;
/** Diagnostics per sample file name; `''` holds those of no sample (options, sources). */
const diagnostics = new Map<string, string[]>();

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tabwire-docs-samples-'));
  symlinkSync(join(repo, 'node_modules'), join(work, 'node_modules'), 'dir');
  const prelude = join(work, 'prelude.d.ts');
  writeFileSync(prelude, SAMPLES_PRELUDE);
  const files = [prelude];
  for (const b of checked) {
    const file = join(work, fileOf(b));
    // `export {}` makes every sample a module, so samples do not share a scope.
    writeFileSync(file, `${b.code}\nexport {};\n`);
    files.push(file);
  }
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noUncheckedIndexedAccess: true,
    esModuleInterop: true,
    skipLibCheck: true,
    jsx: ts.JsxEmit.ReactJSX,
    noEmit: true,
    allowJs: true,
    checkJs: true,
    types: ['node'],
    typeRoots: [join(repo, 'node_modules', '@types')],
    baseUrl: repo,
    paths: { tabwire: ['./src/index.ts'], 'tabwire/*': ['./src/*/index.ts'] },
  };
  const program = ts.createProgram(files, options);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    let key = '';
    let where = '';
    if (d.file) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
      key = d.file.fileName.startsWith(work) ? basename(d.file.fileName) : '';
      where = key === '' ? `${d.file.fileName}:${line + 1}:${character + 1}: ` : `sample line ${line + 1}`;
      const block = checked.find((b) => fileOf(b) === key);
      if (block) where = `${block.doc}:${block.line + 1 + line}:${character + 1} (${where}): `;
    }
    const list = diagnostics.get(key) ?? [];
    list.push(`${where}TS${d.code}: ${message}`);
    diagnostics.set(key, list);
  }
  console.log(
    `docs samples: ${blocks.length} ts/tsx/js blocks in ${docs.length} docs, ${checked.length} type-checked, ${skipped.length} opted out with <!-- no-check -->${skipped.map((b) => `\n  - ${label(b)}`).join('')}`,
  );
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('docs code samples', () => {
  it('finds samples to check', () => {
    expect(checked.length).toBeGreaterThan(0);
  });

  it('compile without errors outside the samples (prelude, sources)', () => {
    expect(diagnostics.get('') ?? []).toEqual([]);
  });

  // Types cannot tell: a relative `url` compiles, and createRealtime throws on it.
  it('give createRealtime only URLs it accepts (absolute http(s))', () => {
    const urls = blocks.flatMap((b) =>
      [...b.code.matchAll(/(?:createRealtime\(\s*\{|options=\{\{)\s*url:\s*'([^']*)'/g)].map(
        (m) => [label(b), m[1] ?? ''] as const,
      ),
    );
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.filter(([, url]) => !isHttpUrl(url))).toEqual([]);
  });

  describe.each(docs.filter((doc) => checked.some((b) => b.doc === doc)))('%s', (doc) => {
    it.each(checked.filter((b) => b.doc === doc).map((b) => [label(b), b] as const))(
      '%s compiles',
      (_name, b) => {
        const errors = diagnostics.get(fileOf(b)) ?? [];
        expect(
          errors,
          `${label(b)} does not compile:\n${errors.join('\n')}\n--- sample ---\n${b.code}`,
        ).toEqual([]);
      },
    );
  });
});
