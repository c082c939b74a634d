import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import type { Options } from 'tsup';
import { describe, expect, it } from 'vitest';

// The property mangling of scripts/mangle.mjs: what it matches, that tsup
// applies it, and that it leaves none of the listed names in a bundle.
// (scripts/check-mangle.mjs checks the names themselves, after the build.)

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// Imported by URL, as the .mjs has no types.
const { mangleOptions, mangledProps } = (await import(
  new URL('../../../scripts/mangle.mjs', import.meta.url).href
)) as {
  mangleOptions: Pick<BuildOptions, 'mangleProps' | 'mangleQuoted'>;
  mangledProps: string[];
};

const listed = (
  JSON.parse(readFileSync(join(root, 'scripts', 'mangle-props.json'), 'utf8')) as { props: string[] }
).props;

describe('scripts/mangle.mjs', () => {
  it('exports the list of scripts/mangle-props.json, sorted and without repeats', () => {
    expect(mangledProps).toEqual(listed);
    expect(listed.length).toBeGreaterThan(0);
    expect([...new Set(listed)].sort()).toEqual(listed);
  });

  it('matches exactly the listed names, and never quoted ones', () => {
    const pattern = mangleOptions.mangleProps as RegExp;
    for (const name of listed) {
      expect(pattern.test(name), name).toBe(true);
      expect(pattern.test(`${name}X`), `${name}X`).toBe(false);
      expect(pattern.test(`x${name}`), `x${name}`).toBe(false);
    }
    for (const name of ['getState', 'subscribe', 'close', 'postMessage', 'cursor', 'type', '']) {
      expect(pattern.test(name), name).toBe(false);
    }
    expect(mangleOptions.mangleQuoted).toBe(false);
  });

  it('is applied by tsup to every build', async () => {
    // The config is a function (of the command line's options, which it does not read).
    const exported = (await import('../../../tsup.config')).default as
      | Options
      | Options[]
      | ((cli: Options) => Options | Options[] | Promise<Options | Options[]>);
    const config = typeof exported === 'function' ? await exported({}) : exported;
    const configs = Array.isArray(config) ? config : [config];
    expect(configs.length).toBeGreaterThan(0);
    for (const options of configs) {
      for (const format of ['esm', 'cjs'] as const) {
        const esbuildOptions: BuildOptions = {};
        options.esbuildOptions?.(esbuildOptions, { format });
        expect(esbuildOptions.mangleProps).toBe(mangleOptions.mangleProps);
        expect(esbuildOptions.mangleQuoted).toBe(false);
      }
    }
  });

  it('leaves no listed name as a property in the minimal app (with its lazy chunks)', async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [join(root, 'bench', 'size', 'tabwire-all-transports.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      splitting: true,
      write: false,
      outdir: join(root, '.tmp', 'mangle-test'),
      logLevel: 'silent',
      ...mangleOptions,
      mangleCache: {},
    });
    const text = result.outputFiles.map((file) => file.text).join('\n');
    const left = listed.filter((name) =>
      new RegExp(`[.{,]${name.replaceAll('$', '\\$')}[:(]?(?![\\w$])`).test(text),
    );
    expect(left).toEqual([]);
    // Each mangled name is short and distinct, so no two properties merge.
    const renamed = Object.values(result.mangleCache ?? {}).filter((v): v is string => typeof v === 'string');
    expect(new Set(renamed).size).toBe(renamed.length);
    expect(renamed.length).toBeGreaterThan(listed.length / 2);
  });
});
