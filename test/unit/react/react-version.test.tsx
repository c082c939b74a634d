// @vitest-environment happy-dom
import { render, screen } from '@testing-library/react';
import { version } from 'react';
import { version as domVersion } from 'react-dom';
import { describe, expect, it } from 'vitest';

// The React tests run twice: in the `unit` project on React 19 and in the
// `react18` project on React 18 (vitest.config.ts). This one proves that the
// second run really is on React 18, for the adapter and the renderer alike.
describe('the React these tests run on', () => {
  it('is the major version the project promises, for react and react-dom', ({ task }) => {
    const major = task.file.projectName === 'react18' ? '18' : '19';
    expect(version.split('.')[0]).toBe(major);
    expect(domVersion.split('.')[0]).toBe(major);
    render(<p>React {version}</p>);
    expect(screen.getByText(`React ${version}`)).toBeTruthy();
  });
});
