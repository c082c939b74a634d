#!/usr/bin/env node
// Names each failed test of .tmp/vitest-report.json with the first lines of
// its error. .ci/run prints this last, since only the tail of CI's output is
// kept on record: a failure can then be found without rerunning CI.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2] ?? '.tmp/vitest-report.json', 'utf8'));
const firstLines = (text, n) =>
  String(text ?? '')
    .split('\n')
    .slice(0, n)
    .join('\n  ');
for (const file of report.testResults) {
  const name = file.name.replace(`${process.cwd()}/`, '');
  const failed = file.assertionResults.filter((test) => test.status === 'failed');
  if (file.status === 'failed' && failed.length === 0) {
    console.log(`FAILED ${name} (the file itself)\n  ${firstLines(file.message, 3)}`);
  }
  for (const test of failed) {
    console.log(`FAILED ${name} > ${test.fullName}\n  ${firstLines(test.failureMessages?.[0], 4)}`);
  }
}
