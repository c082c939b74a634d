#!/usr/bin/env node
// The `tabwire-devserver` command (package.json `bin`), built on its own into
// dist/bin/ (tsup.config.ts): everything else is in cli.ts, which tests run in-process.
import { processIo, runCli } from './cli';

process.exitCode = await runCli(process.argv.slice(2), processIo());
