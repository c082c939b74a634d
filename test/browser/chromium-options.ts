/**
 * How every Chromium of the tests and benches is started: Debian's package
 * (scripts/ensure-chromium.mjs installs it), never a download, with the
 * flags of DESIGN.md. No imports, so the benches bundle it as it is.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `TABWIRE_CHROMIUM`, else `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return process.env.TABWIRE_CHROMIUM || '/usr/bin/chromium';
}
