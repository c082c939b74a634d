// Property mangling: the esbuild options that shorten tabwire's internal
// property names (methods and fields that only tabwire's own code uses, across
// its internal classes and option objects) in everything that ships or is
// measured: tsup's dist (ESM and CJS), scripts/size.mjs, the bundles of the
// real-Chromium tests (test/browser/harness.ts) and the demo (scripts/demo.mjs).
//
// The names are listed one by one in scripts/mangle-props.json, never matched
// by a pattern, and scripts/check-mangle.mjs (run by CI after the build) checks
// each against what must keep its name: the DOM/ES/worker lib types, every
// public type in dist/*.d.ts, the wire and cross-tab protocol, string
// literals in src, and the APIs of the packages src uses or bundles.
// `node scripts/check-mangle.mjs --suggest` prints the candidates.
//
// mangleQuoted stays false: `obj['name']` and `'name' in obj` keep the name
// (check-mangle also refuses any listed name written as a string in src).
import { readFileSync } from 'node:fs';

/** The internal property names that are mangled (sorted, unique). */
export const mangledProps = JSON.parse(
  readFileSync(new URL('./mangle-props.json', import.meta.url), 'utf8'),
).props;

const escapeRegExp = (name) => name.replaceAll('$', '\\$');

/**
 * esbuild options to spread into a build of tabwire's code (never into a
 * build of another library: the names are tabwire's). Esbuild picks the
 * short names per build, so code from two builds must never share objects
 * through these names unless both builds get one mangle cache: the entries
 * meet through public types only, and the lazily loaded parts, built apart
 * from the core that hands them its objects, get the core's names from
 * scripts/lazy-parts.mjs.
 */
export const mangleOptions =
  mangledProps.length === 0
    ? {}
    : { mangleProps: new RegExp(`^(?:${mangledProps.map(escapeRegExp).join('|')})$`), mangleQuoted: false };
