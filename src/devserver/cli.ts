import { isIPv4, isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { startDevServer } from './index';
import type { DevServer } from './types';

/** The port docs/getting-started.md and `npm start` use. */
export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';

/** Exit codes of `tabwire-devserver`: stopped or `--help`, could not start, bad command line. */
export const EXIT_OK = 0;
export const EXIT_START_FAILED = 1;
export const EXIT_USAGE = 2;

/** What the CLI touches of its process, so that tests can run it in theirs. */
export interface CliIo {
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a line to stderr. */
  err(line: string): void;
  /** Calls `stop` on SIGINT or SIGTERM; the returned function stops listening. */
  onStopSignal(stop: () => void): () => void;
}

const USAGE_LINE = 'Usage: tabwire-devserver [--port <n>] [--host <address>]';

export const USAGE = `${USAGE_LINE}

Runs tabwire's reference backend (tabwire/devserver) for local work and
tests, not for production. Needs the 'ws' package: npm install -D ws

Options:
  --port <n>          port to listen on, 0..65535 (0: any free one); default ${DEFAULT_PORT}
  --host <address>    address to listen on; default ${DEFAULT_HOST} (only this machine)
  -h, --help          print this help`;

/** A command line the CLI cannot run: exit code 2, with the usage. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

type CliArgs = { help: true } | { help: false; port: number; host: string };

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port <= 65535)) throw new CliUsageError(`--port must be an integer in 0..65535, got '${value}'`);
  return port;
}

function parseHost(value: string | undefined): string {
  if (value === undefined) return DEFAULT_HOST;
  // A name or an address, unbracketed: `[::1]` or `host:port` would only fail later, in listen().
  if (!isIPv6(value) && !/^[A-Za-z0-9.-]+$/.test(value)) {
    throw new CliUsageError(
      `--host must be a host name or an IP address (e.g. 0.0.0.0, ::1), got '${value}'`,
    );
  }
  return value;
}

/** Reads the command line; throws a {@link CliUsageError} for an unknown flag or a bad value. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let values: { port?: string | undefined; host?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    // parseArgs's own message names the flag (`Unknown option '--prot'`).
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return { help: true };
  return { help: false, port: parsePort(values.port), host: parseHost(values.host) };
}

/** Loopback only: any other address lets the network in, with the dev tokens. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  return /^::ffff:127\./i.test(host);
}

function printHowTo(io: CliIo, server: DevServer): void {
  const json = "-H 'content-type: application/json'";
  const event = '{"service":"tasks","entityType":"task","type":"task.updated","data":{"id":"t_1"}}';
  // The default telemetry URL is on the page's origin: a bundler's dev server
  // (Vite's :5173) answers it 404. This server answers it with 204.
  const telemetry = `${new URL(server.url).origin}/telemetry/client`;
  io.out(`tabwire dev server listening: ${server.url}`);
  io.out('');
  io.out(
    `  client:   createRealtime({ url: '${server.url}', auth: { getToken: () => 'dev:org_1:u_1' }, ` +
      `telemetry: { url: '${telemetry}' } })`,
  );
  io.out('            (any dev:<orgId>:<userId> token is accepted)');
  io.out(`  token:    curl -X POST ${server.url}/dev/token ${json} -d '{"orgId":"org_1","userId":"u_1"}'`);
  io.out(
    `  publish:  curl -X POST ${server.url}/dev/publish ${json} -d '{"orgId":"org_1","event":${event}}'`,
  );
  io.out('');
  io.out('Ctrl+C to stop.');
}

function warnIfExposed(io: CliIo, host: string): void {
  if (isLoopback(host)) return;
  io.err(
    `warning: --host ${host} is not a loopback address: anyone who reaches it can connect as any user ` +
      'of any org (dev:<orgId>:<userId> tokens), get tokens from POST <url>/dev/token and publish. ' +
      'Use it only on a network you trust.',
  );
}

/** `stopped` resolves on the first SIGINT or SIGTERM; `off` stops listening. */
function listenForStop(io: CliIo): { stopped: Promise<void>; off: () => void } {
  let off = (): void => {};
  const stopped = new Promise<void>((resolve) => {
    off = io.onStopSignal(() => {
      // Listening no more: a second Ctrl+C, should closing hang, gets Node's default and ends the process.
      off();
      resolve();
    });
  });
  return { stopped, off };
}

/**
 * `tabwire-devserver`: starts the dev server, prints its URL and how to get
 * a token and publish, and closes it on SIGINT or SIGTERM. Resolves with the
 * exit code: {@link EXIT_OK} once closed (or after `--help`),
 * {@link EXIT_START_FAILED} when it could not start, {@link EXIT_USAGE} for a
 * bad command line.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    io.err(`tabwire-devserver: ${error.message}`);
    io.err(`${USAGE_LINE} (--help for more)`);
    return EXIT_USAGE;
  }
  if (args.help) {
    io.out(USAGE);
    return EXIT_OK;
  }
  warnIfExposed(io, args.host);
  // Listening before the start: a signal while it starts still closes the server.
  const { stopped, off } = listenForStop(io);
  let server: DevServer;
  try {
    server = await startDevServer({ port: args.port, host: args.host });
  } catch (error) {
    off();
    io.err(`tabwire-devserver: could not start: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_START_FAILED;
  }
  printHowTo(io, server);
  await stopped;
  io.out('stopping the dev server');
  await server.close();
  return EXIT_OK;
}

/** The {@link CliIo} of this process. */
export function processIo(): CliIo {
  return {
    out(line) {
      process.stdout.write(`${line}\n`);
    },
    err(line) {
      process.stderr.write(`${line}\n`);
    },
    onStopSignal(stop) {
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      return () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      };
    },
  };
}
