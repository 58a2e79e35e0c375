// GraphiQL, as the server serves it at GET /graphql (Accept: text/html), in
// headless Chromium driven by playwright-core. The page loads React and
// GraphiQL from unpkg.com; this machine has no internet, so those requests
// are answered from this project's node_modules (the same versions the page
// asks for) through request interception. Then, in the browser, a query runs
// with a bearer token typed into GraphiQL's headers editor, and a
// subscription does too (GraphiQL passes its headers as the WebSocket
// connection_init payload) and shows an event pushed by a role change.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

import { BASE_URL, HTTP_URL, ownerAndMember, updateMemberRole } from './lib/orgql.mjs';

const require = createRequire(import.meta.url);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = process.env.ORGQL_ARTIFACTS ?? mkdtempSync(join(tmpdir(), 'orgql-graphiql-'));
const TEST = { timeout: 60_000 };
const CDN_HOST = 'unpkg.com';

let setup; // { owner, member, organizationId, memberId }
let context;
let page;
let profileDir;
const served = []; // CDN URLs answered from node_modules
const unserved = []; // other outside URLs the page asked for (aborted)
const pageErrors = [];
const consoleMessages = []; // warnings and errors the page logged
const graphqlRequests = []; // { headers, postData, status }
const sockets = []; // { url, sent: [], received: [] }

/** `https://unpkg.com/NAME@RANGE/PATH` -> the file in node_modules, if the installed version matches. */
function cdnFile(url) {
  const match = /^\/((?:@[^/]+\/)?[^@/]+)@([^/]+)\/(.+)$/.exec(url.pathname);
  if (!match) throw new Error(`unexpected CDN URL ${url.href}`);
  const [, name, range, path] = match;
  const packageDir = require.resolve(`${name}/package.json`).replace(/package\.json$/, '');
  const { version } = JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8'));
  // The page asks for a major ("graphiql@4") or a prefix of a version.
  if (!`${version}.`.startsWith(`${range}.`) && version !== range) {
    throw new Error(`the page asks for ${name}@${range} but tests/conformance pins ${name}@${version}: pin a matching version in package.json`);
  }
  return { file: `${packageDir}${path}`, name, version };
}

function contentType(path) {
  if (path.endsWith('.css')) return 'text/css; charset=utf-8';
  if (path.endsWith('.js')) return 'application/javascript; charset=utf-8';
  return 'application/octet-stream';
}

async function editorValue(selector) {
  return page.$eval(selector, (el) => el.CodeMirror.getValue());
}

/** Replaces an editor's text the way a person pastes it: click, select all, insert. */
async function fillEditor(selector, text) {
  await page.click(`${selector} .CodeMirror-scroll`);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
  assert.equal(await editorValue(`${selector} .CodeMirror`), text, `the editor ${selector} holds what was typed`);
}

/**
 * Types an operation into the query editor and waits until GraphiQL has
 * parsed it (the tab takes the operation's name): GraphiQL picks the
 * operation name, and whether to use the WebSocket, from that parse.
 */
async function fillQuery(text, operationName) {
  await fillEditor('.graphiql-query-editor', text);
  await page.waitForFunction(
    (name) => document.querySelector('.graphiql-tab-active .graphiql-tab-button')?.textContent?.trim() === name,
    operationName,
    { timeout: 5000 },
  );
}

async function showHeadersEditor() {
  await page.click('.graphiql-editor-tools button[data-name="headers"]');
  await page.waitForSelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
}

async function setHeaders(headers) {
  await showHeadersEditor();
  await fillEditor('.graphiql-editor-tool .graphiql-editor:not(.hidden)', JSON.stringify(headers));
}

async function responseText() {
  return editorValue('.graphiql-response .CodeMirror');
}

async function waitForResponse(predicate, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await responseText();
    if (predicate(text)) return text;
    await sleep(100);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'graphiql-timeout.png') });
  throw new Error(`the result pane did not show ${what} within ${timeoutMs} ms; it shows:\n${text}`);
}

function redact(value) {
  return JSON.parse(JSON.stringify(value).replaceAll(setup.member.token, '<member token>'));
}

before(async () => {
  setup = await ownerAndMember('giql');
  mkdirSync(ARTIFACTS, { recursive: true });
  profileDir = mkdtempSync(join(tmpdir(), 'orgql-chromium-profile-'));
  // launchPersistentContext gives Chromium this fresh --user-data-dir.
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (['error', 'warning'].includes(message.type())) consoleMessages.push(`${message.type()}: ${message.text().slice(0, 500)}`);
  });
  page.on('websocket', (ws) => {
    const record = { url: ws.url(), sent: [], received: [], closed: false };
    sockets.push(record);
    ws.on('framesent', (frame) => record.sent.push(String(frame.payload)));
    ws.on('framereceived', (frame) => record.received.push(String(frame.payload)));
    ws.on('close', () => {
      record.closed = true;
    });
  });
  page.on('requestfinished', async (request) => {
    if (request.url() !== HTTP_URL || request.method() !== 'POST') return;
    const response = await request.response();
    graphqlRequests.push({ headers: await request.allHeaders(), postData: request.postData(), status: response?.status() });
  });
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin === BASE_URL) return route.continue();
    if (url.hostname === CDN_HOST) {
      const { file } = cdnFile(url);
      served.push(url.href);
      return route.fulfill({ status: 200, contentType: contentType(file), body: readFileSync(file) });
    }
    unserved.push(url.href);
    return route.abort('internetdisconnected');
  });
});

after(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

describe('GraphiQL in Chromium', () => {
  test('GET /graphql with Accept: text/html serves GraphiQL, which renders from the pinned assets', TEST, async () => {
    const html = await fetch(HTTP_URL, { headers: { accept: 'text/html' } });
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    const source = await html.text();
    const cdnUrls = [...source.matchAll(/https:\/\/unpkg\.com\/[^"' ]+/g)].map((m) => m[0]);
    assert.ok(cdnUrls.length > 0, 'the page loads its assets from unpkg.com');
    for (const url of cdnUrls) cdnFile(new URL(url)); // throws when a pin does not match the page

    const response = await page.goto(HTTP_URL);
    assert.equal(response.status(), 200);
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
    await page.waitForSelector('.graphiql-query-editor .CodeMirror');
    await page.waitForSelector('.graphiql-execute-button');
    // GraphiQL fetched the schema (introspection) from the server.
    const deadline = Date.now() + 10_000;
    while (!graphqlRequests.some((r) => r.postData?.includes('IntrospectionQuery')) && Date.now() < deadline) await sleep(100);
    const introspection = graphqlRequests.find((r) => r.postData?.includes('IntrospectionQuery'));
    assert.ok(introspection, 'GraphiQL sent its IntrospectionQuery');
    assert.equal(introspection.status, 200);
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-loaded.png') });

    assert.deepEqual(
      [...new Set(served)].sort(),
      [...new Set(cdnUrls)].sort(),
      'every unpkg asset of the page was served from node_modules',
    );
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
    console.log(`served from node_modules: ${[...new Set(served)].join(', ')}`);
    if (unserved.length) console.log(`other outside requests (aborted, not needed to render): ${unserved.join(', ')}`);
  });

  test('a query runs from the editor: viewer is null without a header, the user with a bearer header', TEST, async () => {
    await fillQuery('query Me { viewer { user { email } } }', 'Me');
    await page.click('.graphiql-execute-button');
    const anonymous = await waitForResponse((t) => /"viewer":\s*null/.test(t), '"viewer": null');
    assert.doesNotMatch(anonymous, /"errors"/);

    await setHeaders({ Authorization: `Bearer ${setup.member.token}` });
    await page.click('.graphiql-execute-button');
    const signedIn = await waitForResponse((t) => t.includes(setup.member.email), `the viewer's email ${setup.member.email}`);
    assert.deepEqual(JSON.parse(signedIn), { data: { viewer: { user: { email: setup.member.email } } } });
    const sent = graphqlRequests.filter((r) => r.postData?.includes('query Me'));
    assert.equal(sent.at(-1).headers.authorization, `Bearer ${setup.member.token}`);
    assert.match(sent.at(-1).headers['content-type'], /^application\/json/);
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-query.png') });
  });

  test('a subscription authenticates with the headers editor and shows an event pushed by a role change', TEST, async () => {
    await setHeaders({ Authorization: `Bearer ${setup.member.token}` });
    await fillQuery('subscription Events { viewerMembershipChanged { kind role previousRole organizationId } }', 'Events');
    const before = sockets.length;
    await page.click('.graphiql-execute-button');

    const deadline = Date.now() + 10_000;
    let socket;
    while (Date.now() < deadline) {
      socket = sockets.slice(before).find((s) => s.url.endsWith('/graphql/ws'));
      if (socket?.received.some((f) => JSON.parse(f).type === 'connection_ack') && socket.sent.some((f) => JSON.parse(f).type === 'subscribe')) break;
      if (socket?.closed) break;
      await sleep(50);
    }
    if (!socket) {
      await page.screenshot({ path: join(ARTIFACTS, 'graphiql-no-websocket.png') });
      assert.fail(
        `GraphiQL opened no WebSocket to /graphql/ws; result pane:\n${await responseText()}\npage console:\n${consoleMessages.join('\n')}`,
      );
    }
    const init = socket.sent.map((f) => JSON.parse(f)).find((m) => m.type === 'connection_init');
    console.log(`GraphiQL's connection_init: ${JSON.stringify(redact(init))}`);
    assert.ok(
      socket.received.some((f) => JSON.parse(f).type === 'connection_ack'),
      `the server acknowledged GraphiQL's connection_init ${JSON.stringify(redact(init))}; frames received: ${JSON.stringify(socket.received)}; closed: ${socket.closed}`,
    );
    assert.deepEqual(init.payload, { Authorization: `Bearer ${setup.member.token}` });

    await sleep(500); // the server listens once its subscription task runs
    await updateMemberRole(setup.owner.token, setup.memberId, 'MANAGER');
    const text = await waitForResponse((t) => t.includes('ROLE_CHANGED'), 'the ROLE_CHANGED event');
    assert.deepEqual(JSON.parse(text), {
      data: {
        viewerMembershipChanged: {
          kind: 'ROLE_CHANGED',
          role: 'MANAGER',
          previousRole: 'MEMBER',
          organizationId: setup.organizationId,
        },
      },
    });
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-subscription.png') });

    // The execute button now stops the subscription: GraphiQL completes it.
    await page.click('.graphiql-execute-button');
    const stopDeadline = Date.now() + 5000;
    while (!socket.sent.some((f) => JSON.parse(f).type === 'complete') && !socket.closed && Date.now() < stopDeadline) await sleep(50);
    assert.ok(socket.sent.some((f) => JSON.parse(f).type === 'complete') || socket.closed, 'stopping sends complete or closes the socket');
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });
});
