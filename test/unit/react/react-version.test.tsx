// @vitest-environment happy-dom
import { render, screen } from '@testing-library/react';
import { version } from 'react';
import { describe, expect, it } from 'vitest';

// The React tests run twice: in the `unit` project on React 19 and in the
// `react18` project on React 18 (vitest.config.ts). This one proves that the
// second run really is on React 18, for the adapter and the renderer alike.
describe('the React these tests run on', () => {
  it('is the major version the project promises, for react and react-dom', async ({ task }) => {
    const major = task.file.projectName === 'react18' ? '18' : '19';
    // react-dom has no types installed here; only its version is read.
    const dom = (await import('react-dom' as string)) as { version: string };
    expect(version.split('.')[0]).toBe(major);
    expect(dom.version.split('.')[0]).toBe(major);
    render(<p>React {version}</p>);
    expect(screen.getByText(`React ${version}`)).toBeTruthy();
  });
});
