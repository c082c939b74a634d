import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CliIo,
  DEFAULT_HOST,
  DEFAULT_PORT,
  EXIT_OK,
  EXIT_START_FAILED,
  EXIT_USAGE,
  isLoopback,
  parseCliArgs,
  runCli,
} from '../../src/devserver/cli';
import { until } from './devserver-helpers';

// `tabwire-devserver` (src/devserver/cli.ts) run in this process through a
// fake CliIo: its lines are recorded, and `stop()` plays SIGINT / SIGTERM.
// test/integration/release.test.ts runs the built command in a process of its own.

interface FakeIo extends CliIo {
  stdout: string[];
  stderr: string[];
  /** Plays a SIGINT: calls every stop handler listening. */
  stop(): void;
  listening(): number;
}

function fakeIo(): FakeIo {
  const handlers = new Set<() => void>();
  return {
    stdout: [],
    stderr: [],
    out(line) {
      this.stdout.push(line);
    },
    err(line) {
      this.stderr.push(line);
    },
    onStopSignal(stop) {
      const handler = (): void => stop();
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    stop() {
      for (const handler of [...handlers]) handler();
    },
    listening: () => handlers.size,
  };
}

/** The base URL the CLI printed, once it has. */
async function printedUrl(io: FakeIo): Promise<string> {
  const found = (): RegExpExecArray | null =>
    /listening: (http:\/\/\S+\/v2\/realtime)$/.exec(io.stdout.join('\n').split('\n')[0] ?? '');
  await until(() => found() !== null, 5000, 'the URL printed');
  return found()?.[1] ?? '';
}

/** Whether anything accepts a TCP connection at `url`'s host and port. */
async function accepts(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/health`);
    return true;
  } catch {
    return false;
  }
}

const running: { io: FakeIo; exit: Promise<number> }[] = [];
afterEach(async () => {
  for (const run of running.splice(0)) {
    run.io.stop();
    await run.exit;
  }
});

function start(argv: string[]): { io: FakeIo; exit: Promise<number> } {
  const io = fakeIo();
  const run = { io, exit: runCli(argv, io) };
  running.push(run);
  return run;
}

describe('tabwire-devserver command line', () => {
  it('defaults to port 8787 on 127.0.0.1, as getting-started.md', () => {
    expect(parseCliArgs([])).toEqual({ help: false, port: DEFAULT_PORT, host: DEFAULT_HOST });
    expect([DEFAULT_PORT, DEFAULT_HOST]).toEqual([8787, '127.0.0.1']);
    expect(parseCliArgs(['--port', '0', '--host', '::1'])).toEqual({ help: false, port: 0, host: '::1' });
    expect(parseCliArgs(['--port=9000'])).toEqual({ help: false, port: 9000, host: DEFAULT_HOST });
  });

  it('prints the usage for --help and -h, starting nothing', async () => {
    for (const flag of ['--help', '-h']) {
      const io = fakeIo();
      expect(await runCli([flag], io)).toBe(EXIT_OK);
      expect(io.stdout.join('\n')).toMatch(/^Usage: tabwire-devserver \[--port <n>\] \[--host <address>\]/);
      expect(io.stdout.join('\n')).toContain('--port <n>');
      expect(io.stderr).toEqual([]);
      expect(io.listening()).toBe(0);
    }
  });

  it.each([
    [['--prot', '8787'], "Unknown option '--prot'"],
    [['-p', '8787'], "Unknown option '-p'"],
    [['--port'], "Option '--port <value>' argument missing"],
    [['--port', 'abc'], "--port must be an integer in 0..65535, got 'abc'"],
    [['--port', '65536'], "--port must be an integer in 0..65535, got '65536'"],
    [['--port', '80.5'], "--port must be an integer in 0..65535, got '80.5'"],
    [['--port='], "--port must be an integer in 0..65535, got ''"],
    [['--host', '[::1]'], "--host must be a host name or an IP address (e.g. 0.0.0.0, ::1), got '[::1]'"],
    [
      ['--host', 'localhost:8787'],
      "--host must be a host name or an IP address (e.g. 0.0.0.0, ::1), got 'localhost:8787'",
    ],
    [['serve'], "Unexpected argument 'serve'"],
  ])('refuses %j with exit code 2 and says why', async (argv, message) => {
    const io = fakeIo();
    expect(await runCli(argv, io)).toBe(EXIT_USAGE);
    expect(io.stderr[0]).toContain(`tabwire-devserver: ${message}`);
    expect(io.stderr[1]).toBe('Usage: tabwire-devserver [--port <n>] [--host <address>] (--help for more)');
    expect(io.stdout).toEqual([]);
    expect(io.listening()).toBe(0);
  });
});

describe('tabwire-devserver running', () => {
  it('serves at the printed URL, with the printed token and publish requests working, until stopped', async () => {
    const { io, exit } = start(['--port', '0']);
    const url = await printedUrl(io);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\/realtime$/);
    expect(io.stderr).toEqual([]);

    // The requests the CLI prints, as curl would send them.
    const printed = io.stdout.join('\n');
    const body = (path: string): string => {
      const line = printed.split('\n').find((l) => l.includes(`${url}${path} `)) ?? '';
      return /-d '(.*)'$/.exec(line)?.[1] ?? 'missing';
    };
    const post = async (path: string) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(path),
      });
    const token = await post('/dev/token');
    expect(token.status).toBe(200);
    expect(await token.json()).toMatchObject({ token: expect.any(String) });
    const published = await post('/dev/publish');
    expect(published.status).toBe(200);
    expect(await published.json()).toMatchObject({ service: 'tasks', seq: 1, orgId: 'org_1' });
    const telemetry = `${new URL(url).origin}/telemetry/client`;
    expect(printed).toContain(
      `createRealtime({ url: '${url}', auth: { getToken: () => 'dev:org_1:u_1' }, telemetry: { url: '${telemetry}' } })`,
    );
    // The printed telemetry URL is answered (a bundler's page would get a 404 from its own origin).
    const report = await fetch(telemetry, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'custom' }),
    });
    expect(report.status).toBe(204);

    io.stop();
    expect(await exit).toBe(EXIT_OK);
    expect(io.stdout.at(-1)).toBe('stopping the dev server');
    expect(await accepts(url)).toBe(false);
    // A second Ctrl+C is Node's again (ends the process), should closing hang.
    expect(io.listening()).toBe(0);
  });

  it('warns on stderr when --host is not a loopback address, and not when it is', async () => {
    const exposed = start(['--port', '0', '--host', '0.0.0.0']);
    await printedUrl(exposed.io);
    expect(exposed.io.stderr).toHaveLength(1);
    expect(exposed.io.stderr[0]).toMatch(/^warning: --host 0\.0\.0\.0 is not a loopback address: anyone/);
    expect(exposed.io.stderr[0]).toContain('POST <url>/dev/token');

    const loopback = start(['--port', '0', '--host', 'localhost']);
    await printedUrl(loopback.io);
    expect(loopback.io.stderr).toEqual([]);
  });

  it('tells loopback addresses from others', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '::ffff:127.0.0.1'])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com', '127.example.com'])
      expect(isLoopback(host), host).toBe(false);
  });

  it('exits with 1, naming the cause, when the port is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const io = fakeIo();
      // The dev server retries a port in use for 2 s (a restart racing the OS) first.
      expect(await runCli(['--port', String(port)], io)).toBe(EXIT_START_FAILED);
      expect(io.stderr.join('\n')).toMatch(/^tabwire-devserver: could not start: .*EADDRINUSE/);
      expect(io.stdout).toEqual([]);
      expect(io.listening()).toBe(0);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('closes the server when stopped while it starts', async () => {
    const io = fakeIo();
    const exit = runCli(['--port', '0'], io);
    io.stop();
    expect(await exit).toBe(EXIT_OK);
    const url = /listening: (\S+)$/.exec(io.stdout[0] ?? '')?.[1] ?? 'missing';
    expect(await accepts(url)).toBe(false);
  });
});
