#!/usr/bin/env node
// Checks scripts/mangle-props.json, the internal property names that
// scripts/mangle.mjs has esbuild shorten, against what must keep its name.
// A listed name breaks users or other tabs if it is:
//
//   1. a property or global of TypeScript's lib files (DOM, ES, webworker…):
//      `catch`, `postMessage`, `close` are the platform's;
//   2. a name in the public types, every `dist/*.d.ts` and `dist/*.d.cts`
//      (options, state, events, Transport, devserver and testing APIs): users
//      read and write those properties (run after `npm run build`);
//   3. a key of the wire protocol, of the messages between tabs or of a
//      stored record: the keys in src/protocol/schemas.ts,
//      src/tabs/channel-messages.ts, src/tabs/channel-schemas.ts,
//      src/observability/telemetry-payload.ts, the record types listed in
//      STORED_RECORDS (IndexedDB, localStorage) and every name in
//      ../shared/PROTOCOL.md's code (other app versions and servers read
//      them);
//   4. written as a string literal anywhere in src (`'name'`, `"name"`, a
//      template): `obj[key]` or `key in obj` with that string would miss the
//      mangled property;
//   5. a name in the APIs of the packages src uses (Node's, ws's and React's
//      types), or a property name or string in the code of the packages
//      bundled into dist (its `dependencies`: zod), since mangling
//      renames their properties too;
//   6. exported by a module that src loads with `import()`: that hands out a
//      module namespace, and `(await import('./x')).Name` must keep `Name`,
//      as the export keeps its name.
//
// Exits non-zero naming each offending name and the rule it breaks. Also
// checks that the list is sorted, unique and made of identifiers.
//
// `--suggest` prints candidates instead: the names that appear as `.name` or
// `name:` in the minified bundles of the size entries (bench/size: the
// minimal apps and the React one, with the chunks they load on demand) and
// pass rules 1–6, most bytes first. Review each by hand before listing it:
// keys of objects handed to user callbacks, read from JSON or storage, or of
// the `platform`/options users give must stay.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { mangledProps } from './mangle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const suggest = process.argv.includes('--suggest');

const PROTOCOL_SOURCES = [
  'src/protocol/schemas.ts',
  'src/tabs/channel-messages.ts',
  'src/tabs/channel-schemas.ts',
  'src/observability/telemetry-payload.ts',
];
/** The types of what is written to storage, which other app versions read back: [file, type name]. */
const STORED_RECORDS = [
  ['src/tabs/cursor-store.ts', 'StoredRecord'],
  ['src/tabs/cursor-store.ts', 'UnloadEntry'],
  ['src/tabs/storage-lease-election.ts', 'Lease'],
];
/**
 * The wire protocol: the shared spec beside the project where there is one,
 * and the repo's own copy (docs/protocol.md holds its text and the SDK's
 * additions). Both, so a checkout beside the spec fails on what a clone
 * checked alone (CI) fails on.
 */
const PROTOCOL_DOCS = [
  resolve(root, '..', 'shared', 'PROTOCOL.md'),
  join(root, 'docs', 'protocol.md'),
].filter((path) => existsSync(path));
/** Packages whose types name the APIs src calls (rule 5). */
const TYPE_PACKAGES = ['@types/node', '@types/ws', '@types/react'];

function walkFiles(dir, keep, into = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') walkFiles(path, keep, into);
    } else if (keep(entry.name)) into.push(path);
  }
  return into;
}

function parse(path) {
  return ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, false);
}

/** Adds `name` → first `where` to `map`. */
function note(map, name, where) {
  if (!map.has(name)) map.set(name, where);
}

const nameText = (name) =>
  name && (ts.isIdentifier(name) || ts.isStringLiteralLike(name) || ts.isPrivateIdentifier(name))
    ? name.text
    : undefined;

/**
 * Every name a declaration file gives to something reachable as a property:
 * members of interfaces, classes, type literals, enums, namespaces and the
 * global scope (globals are properties of globalThis), object literal keys,
 * destructured keys, and string literal types (`Omit<T, 'key'>`). Parameter
 * and type parameter names are not properties and are left out.
 */
function declaredNames(path, map) {
  declaredNamesIn(parse(path), relative(root, path), map);
}

/** {@link declaredNames} of one node and what it holds. */
function declaredNamesIn(top, where, map) {
  const visit = (node) => {
    if (!ts.isParameter(node) && !ts.isTypeParameterDeclaration(node)) {
      const text = nameText(node.name);
      if (text !== undefined) note(map, text, where);
    }
    if (ts.isBindingElement(node) && node.propertyName) {
      const text = nameText(node.propertyName);
      if (text !== undefined) note(map, text, where);
    }
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) note(map, node.literal.text, where);
    if (ts.isPropertyAccessExpression(node)) note(map, node.name.text, where);
    ts.forEachChild(node, visit);
  };
  visit(top);
}

/** Every string literal and template text of a source file, as written. */
function stringLiterals(path, map) {
  const file = parse(path);
  const where = relative(root, path);
  const visit = (node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
      note(map, node.text, `${where}:${line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

/**
 * Every name a script uses as a property: `.name`, object literal and class
 * member names, destructured keys, and every string literal (`obj[key]`).
 */
function propertyNames(path, map) {
  const file = ts.createSourceFile(
    path,
    readFileSync(path, 'utf8'),
    ts.ScriptTarget.Latest,
    false,
    ts.ScriptKind.JS,
  );
  const where = relative(root, path);
  const visit = (node) => {
    if (ts.isPropertyAccessExpression(node)) note(map, node.name.text, where);
    else if (ts.isStringLiteralLike(node)) note(map, node.text, where);
    else if (ts.isShorthandPropertyAssignment(node)) note(map, node.name.text, where);
    else if (ts.isBindingElement(node)) {
      const key = nameText(node.propertyName ?? node.name);
      if (key !== undefined) note(map, key, where);
    } else if (
      (ts.isPropertyAssignment(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isPropertyDeclaration(node) ||
        ts.isGetAccessorDeclaration(node) ||
        ts.isSetAccessorDeclaration(node)) &&
      nameText(node.name) !== undefined
    ) {
      note(map, nameText(node.name), where);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

/** Every identifier of a file. */
function identifiers(path, map) {
  const file = parse(path);
  const where = relative(root, path);
  const visit = (node) => {
    if (ts.isIdentifier(node)) note(map, node.text, where);
    ts.forEachChild(node, visit);
  };
  visit(file);
}

/** Every word of a text, comments included. */
function words(path, text, map) {
  const where = relative(root, path);
  for (const [word] of text.matchAll(/[A-Za-z_$][\w$]*/g)) note(map, word, where);
}

// --- what must keep its name -------------------------------------------------

const rules = [];

{
  const map = new Map();
  const lib = join(root, 'node_modules', 'typescript', 'lib');
  for (const name of readdirSync(lib)) {
    if (/^lib\..*\.d\.ts$/.test(name)) declaredNames(join(lib, name), map);
  }
  rules.push({ rule: 1, what: "a property or global of TypeScript's lib files", map });
}

{
  const map = new Map();
  const dist = join(root, 'dist');
  const files = existsSync(dist) ? readdirSync(dist).filter((n) => /\.d\.c?ts$/.test(n)) : [];
  if (files.length === 0) {
    console.error('check-mangle: no dist/*.d.ts: run `npm run build` (or `npx tsup`) first.');
    process.exit(1);
  }
  for (const name of files) declaredNames(join(dist, name), map);
  rules.push({ rule: 2, what: 'a name in the public types (dist/*.d.ts)', map });
}

{
  const map = new Map();
  // The protocol's sources: their names and strings, and every word their
  // comments quote as code (they name keys of forms built elsewhere, such as
  // a sketch's `toJSON()`).
  for (const path of PROTOCOL_SOURCES) {
    declaredNames(join(root, path), map);
    stringLiterals(join(root, path), map);
    for (const [code] of readFileSync(join(root, path), 'utf8').matchAll(/`[^`\n]+`/g)) {
      words(join(root, path), code, map);
    }
  }
  for (const [path, typeName] of STORED_RECORDS) {
    const declaration = parse(join(root, path)).statements.find(
      (statement) =>
        (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) &&
        statement.name.text === typeName,
    );
    if (!declaration) {
      console.error(
        `check-mangle: no type ${typeName} in ${path} (STORED_RECORDS names the stored records).`,
      );
      process.exit(1);
    }
    declaredNamesIn(declaration, `${path} ${typeName}`, map);
  }
  if (PROTOCOL_DOCS.length === 0) {
    console.error(
      "check-mangle: neither ../shared/PROTOCOL.md nor docs/protocol.md is there (the wire protocol's names).",
    );
    process.exit(1);
  }
  // Every word of the document's code: inline `code` and fenced blocks.
  for (const path of PROTOCOL_DOCS) {
    const doc = readFileSync(path, 'utf8');
    for (const [code] of doc.matchAll(/```[\s\S]*?```|`[^`\n]+`/g)) words(path, code, map);
  }
  rules.push({
    rule: 3,
    what: 'a key of the wire protocol, of the messages between tabs or of a stored record',
    map,
  });
}

{
  const map = new Map();
  for (const path of walkFiles(join(root, 'src'), (n) => /\.tsx?$/.test(n))) stringLiterals(path, map);
  rules.push({ rule: 4, what: 'a string literal in src', map });
}

{
  const map = new Map();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const name of TYPE_PACKAGES) {
    for (const path of walkFiles(join(root, 'node_modules', name), (n) => /\.d\.[cm]?ts$/.test(n))) {
      declaredNames(path, map);
    }
  }
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    for (const path of walkFiles(join(root, 'node_modules', name), (n) =>
      /\.(?:[cm]?js|d\.[cm]?ts)$/.test(n),
    )) {
      if (/\.d\.[cm]?ts$/.test(path)) declaredNames(path, map);
      else propertyNames(path, map);
    }
  }
  rules.push({
    rule: 5,
    what: 'a name in an API src uses or in a bundled package (node, ws, react, zod)',
    map,
  });
}

{
  // The keys of the namespaces `import()` hands out: what the modules src
  // loads with `import()` export, re-exports included.
  const map = new Map();
  const resolveModule = (from, spec) =>
    [`${spec}.ts`, `${spec}.tsx`, `${spec}/index.ts`]
      .map((p) => resolve(dirname(from), p))
      .find((p) => existsSync(p));
  const seen = new Set();
  const addExports = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    const file = parse(path);
    const where = relative(root, path);
    for (const statement of file.statements) {
      if (ts.isExportDeclaration(statement)) {
        if (statement.exportClause && ts.isNamedExports(statement.exportClause)) {
          for (const element of statement.exportClause.elements) note(map, element.name.text, where);
        } else if (statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
          const target = resolveModule(path, statement.moduleSpecifier.text);
          if (target) addExports(target);
        }
      } else if (
        ts.canHaveModifiers(statement) &&
        ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
      ) {
        if (ts.isVariableStatement(statement)) {
          for (const d of statement.declarationList.declarations) {
            if (ts.isIdentifier(d.name)) note(map, d.name.text, where);
          }
        } else if (statement.name) note(map, nameText(statement.name), where);
      }
    }
  };
  for (const path of walkFiles(join(root, 'src'), (n) => /\.tsx?$/.test(n))) {
    const visit = (node) => {
      if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments[0] &&
        ts.isStringLiteralLike(node.arguments[0]) &&
        node.arguments[0].text.startsWith('.')
      ) {
        const target = resolveModule(path, node.arguments[0].text);
        if (target) addExports(target);
        else {
          console.error(
            `check-mangle: cannot resolve import('${node.arguments[0].text}') in ${relative(root, path)}`,
          );
          process.exit(1);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(parse(path));
  }
  rules.push({ rule: 6, what: 'exported by a module that src loads with import()', map });
}

/** The rules `name` breaks, as `rule N: what (where)`. */
function offences(name) {
  return rules
    .filter(({ map }) => map.has(name))
    .map(({ rule, what, map }) => `rule ${rule}: ${what} (${map.get(name)})`);
}

// --- --suggest -----------------------------------------------------------------

if (suggest) {
  const { build } = await import('esbuild');
  const entries = [
    'tabwire-websocket',
    'tabwire-sse',
    'tabwire-long-poll',
    'tabwire-all-transports',
    'tabwire-react',
  ];
  const result = await build({
    absWorkingDir: root,
    entryPoints: entries.map((name) => join(root, 'bench', 'size', `${name}.ts`)),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    splitting: true,
    write: false,
    outdir: join(root, '.tmp', 'check-mangle'),
    external: ['react', 'react-dom'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  const counts = new Map();
  for (const { text } of result.outputFiles) {
    for (const [, dotted, key] of text.matchAll(/\.([A-Za-z_$][\w$]*)|[{,]([A-Za-z_$][\w$]*):/g)) {
      const name = dotted ?? key;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  const listed = new Set(mangledProps);
  const rows = [...counts]
    .filter(([name]) => name.length > 2 && offences(name).length === 0)
    .map(([name, count]) => ({ name, count, bytes: count * (name.length - 1), listed: listed.has(name) }))
    .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
  console.log('candidate\toccurrences\tbytes saved (about, before gzip)\tlisted');
  for (const r of rows) console.log(`${r.name}\t${r.count}\t${r.bytes}\t${r.listed ? 'yes' : ''}`);
  console.log(`\n${rows.length} candidates, ${rows.filter((r) => r.listed).length} listed.`);
  process.exit(0);
}

// --- check -------------------------------------------------------------------

const problems = [];
const raw = mangledProps;
if (!Array.isArray(raw)) {
  console.error('check-mangle: scripts/mangle-props.json: `props` must be an array of names');
  process.exit(1);
}
const sorted = [...new Set(raw)].sort();
if (JSON.stringify(sorted) !== JSON.stringify(raw)) {
  problems.push('scripts/mangle-props.json: `props` must be sorted (by code unit) and without repeats');
}
for (const name of raw) {
  if (typeof name !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(name)) {
    problems.push(`${JSON.stringify(name)}: not an identifier`);
    continue;
  }
  for (const offence of offences(name)) problems.push(`${name}: ${offence}`);
}
// A listed name src no longer uses costs nothing, but the list should say what is mangled.
{
  const used = new Map();
  for (const path of walkFiles(join(root, 'src'), (n) => /\.tsx?$/.test(n))) identifiers(path, used);
  const stale = raw.filter((name) => typeof name === 'string' && !used.has(name));
  if (stale.length > 0) {
    console.warn(`check-mangle: not in src any more (drop them from the list): ${stale.join(', ')}`);
  }
}
if (problems.length > 0) {
  console.error(
    `check-mangle: ${problems.length} problem(s) in scripts/mangle-props.json (remove the name, or rename what clashes):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  process.exit(1);
}
console.log(`check-mangle: the ${raw.length} mangled property names pass rules 1–6.`);
