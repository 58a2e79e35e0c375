// The GraphQL-over-HTTP server audit of the `graphql-http` package, run
// against orgql's /graphql. Prints every audit (id, MUST/SHOULD/MAY,
// pass/fail, and for a failure what the server sent); exits 1 when a MUST
// audit fails. SHOULD and MAY failures are listed but do not fail the run.

import { serverAudits } from 'graphql-http';
import { HTTP_URL } from './lib/orgql.mjs';

const exchanges = new WeakMap();
const audits = serverAudits({
  url: HTTP_URL,
  // Every audit request gets a deadline, so a hanging server fails the
  // audit; each response is kept (cloned, with its request) for the report.
  fetchFn: async (input, init = {}) => {
    const response = await fetch(input, { ...init, signal: AbortSignal.timeout(15_000) });
    exchanges.set(response, { request: describeRequest(input, init), copy: response.clone() });
    return response;
  },
});

const counts = { MUST: [0, 0], SHOULD: [0, 0], MAY: [0, 0] };
const failures = [];

console.log(`graphql-http ${await packageVersion()} server audit of ${HTTP_URL}: ${audits.length} audits\n`);
for (const audit of audits) {
  const level = audit.name.split(' ')[0];
  let result;
  try {
    result = await audit.fn();
  } catch (error) {
    // The audit function throws only on a fatal error (e.g. no connection).
    result = { id: audit.id, name: audit.name, status: 'error', reason: `audit threw: ${error?.stack ?? error}` };
  }
  const passed = result.status === 'ok';
  counts[level][passed ? 0 : 1] += 1;
  console.log(`${passed ? 'PASS' : 'FAIL'}  ${audit.id}  ${level.padEnd(6)}  ${audit.name}`);
  if (!passed) {
    const detail = { id: audit.id, level, name: audit.name, reason: result.reason, response: await describe(result.response) };
    failures.push(detail);
    console.log(indent(`reason: ${detail.reason}`));
    if (detail.response) console.log(indent(detail.response));
  }
}

console.log('\nSummary by level (passed/failed):');
for (const [level, [passed, failed]] of Object.entries(counts)) {
  console.log(`  ${level.padEnd(6)} ${passed} passed, ${failed} failed`);
}
const mustFailures = failures.filter((f) => f.level === 'MUST');
if (failures.length) {
  console.log('\nFailed audits:');
  for (const f of failures) console.log(`  ${f.level.padEnd(6)} ${f.id} ${f.name}`);
}
const total = audits.length;
console.log(`\naudits: ${total - failures.length} passed, ${failures.length} failed`);
if (mustFailures.length) {
  console.log(`graphql-http audit: FAILED (${mustFailures.length} MUST audit(s) failed)`);
  process.exit(1);
}
console.log('graphql-http audit: OK (no MUST audit failed)');

async function describe(response) {
  if (!response) return undefined;
  const exchange = exchanges.get(response);
  let body = '';
  try {
    body = await (exchange?.copy ?? response.clone()).text();
  } catch (error) {
    body = `(body unreadable: ${error})`;
  }
  const headers = [...response.headers]
    .filter(([k]) => !['date', 'content-length', 'vary'].includes(k))
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  return `${exchange ? `audit sent: ${exchange.request}\n` : ''}server sent: HTTP ${response.status}; ${headers}\nbody: ${body.slice(0, 600)}`;
}

function describeRequest(input, init) {
  const method = init.method ?? 'GET';
  const raw = init.headers instanceof Headers ? [...init.headers] : Object.entries(init.headers ?? {});
  const headers = raw
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  const body = init.body === undefined ? '' : ` body: ${String(init.body).slice(0, 300)}`;
  return `${method} ${String(input)}${headers ? ` [${headers}]` : ''}${body}`;
}

function indent(text) {
  return text
    .split('\n')
    .map((line) => `        ${line}`)
    .join('\n');
}

async function packageVersion() {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const { readFileSync } = await import('node:fs');
  const path = require.resolve('graphql-http').replace(/lib[\\/].*$/, 'package.json');
  return JSON.parse(readFileSync(path, 'utf8')).version;
}
