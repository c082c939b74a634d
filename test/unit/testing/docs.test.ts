import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('docs/testing.md', () => {
  it("shows exactly docs-example.test.ts as its complete example (with the package's import paths)", () => {
    const doc = read('../../../docs/testing.md');
    const example = read('./docs-example.test.ts')
      .replaceAll("'../../../src/index'", "'tabwire'")
      .replaceAll("'../../../src/testing'", "'tabwire/testing'");
    const block = /## A complete example[\s\S]*?```ts\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBe(example);
  });

  it.each([
    ['### A tab that crashes', './docs-crash-example.test.ts'],
    ['### Hiding one tab', './docs-visibility-example.test.ts'],
    ['## React components', '../react/testing-docs-sample.test.tsx'],
  ])('shows exactly the test it runs as its sample under "%s"', (heading, file) => {
    const doc = read('../../../docs/testing.md');
    const example = read(file)
      .replaceAll("'../../../src/index'", "'tabwire'")
      .replaceAll("'../../../src/react'", "'tabwire/react'")
      .replaceAll("'../../../src/testing'", "'tabwire/testing'");
    const block = new RegExp(`${heading}\\n[\\s\\S]*?\`\`\`tsx?\\n([\\s\\S]*?)\`\`\``).exec(doc)?.[1];
    expect(block).toBe(example);
  });
});
