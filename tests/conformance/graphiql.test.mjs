// GraphiQL, as the server serves it at GET /graphql (Accept: text/html), in
// headless Chromium driven by playwright-core. The page loads React, ReactDOM
// and GraphiQL from the server itself (/graphql/assets/, embedded in the
// binary from assets/graphiql) under a strict Content-Security-Policy. Every
// request to another origin is aborted, as on a machine without internet:
// the page must render anyway, ask for nothing outside its origin, and log no
// CSP violation. Then, in the browser, a query runs with a bearer token typed
// into GraphiQL's headers editor, and a subscription does too (GraphiQL
// passes its headers as the WebSocket connection_init payload) and shows an
// event pushed by a role change; last, the dialogs and the editor's
// jump-to-line box (which inject styles the CSP allows by hash) open without
// a violation.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

import { BASE_URL, HTTP_URL, WS_URL, ownerAndMember, updateMemberRole } from './lib/orgql.mjs';

const require = createRequire(import.meta.url);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = process.env.ORGQL_ARTIFACTS ?? mkdtempSync(join(tmpdir(), 'orgql-graphiql-'));
const TEST = { timeout: 60_000 };
const ORIGIN = new URL(BASE_URL).origin;
const ASSETS = '/graphql/assets/';

/**
 * The vendored files the page may load, by name: each is byte for byte the
 * file of the npm package tests/conformance pins (package-lock.json), and the
 * version in its name is that package's version.
 */
const VENDORED = [
  { pattern: /^react-(\d+\.\d+\.\d+)\.production\.min\.js$/, pkg: 'react', path: 'umd/react.production.min.js' },
  { pattern: /^react-dom-(\d+\.\d+\.\d+)\.production\.min\.js$/, pkg: 'react-dom', path: 'umd/react-dom.production.min.js' },
  { pattern: /^graphiql-(\d+\.\d+\.\d+)\.min\.js$/, pkg: 'graphiql', path: 'graphiql.min.js' },
  { pattern: /^graphiql-(\d+\.\d+\.\d+)\.min\.css$/, pkg: 'graphiql', path: 'graphiql.min.css' },
];
/** orgql's own page files carry the first 8 hex digits of their sha256: a new content gets a new URL. */
const OWN = /^[a-z][a-z0-9-]*\.([0-9a-f]{8})\.(js|css)$/;
const CONTENT_TYPES = { js: /^(text|application)\/javascript\b/, css: /^text\/css\b/ };

let setup; // { owner, member, organizationId, memberId }
let context;
let page;
let profileDir;
let csp; // the Content-Security-Policy header of the page
const outside = []; // URLs outside the page's origin the browser asked for (aborted)
const requested = []; // every URL the page asked for
const violations = []; // securitypolicyviolation events
const pageErrors = [];
const consoleMessages = []; // warnings and errors the page logged
const graphqlRequests = []; // { headers, postData, status }
const sockets = []; // { url, sent: [], received: [] }

function packageFile(pkg, path) {
  const dir = require.resolve(`${pkg}/package.json`).replace(/package\.json$/, '');
  const { version } = JSON.parse(readFileSync(`${dir}package.json`, 'utf8'));
  return { file: `${dir}${path}`, version };
}

function sha256(bytes, encoding = 'hex') {
  return createHash('sha256').update(bytes).digest(encoding);
}

/** `a b c; d e` -> Map { a => [b, c], d => [e] } */
function parseCsp(value) {
  const directives = new Map();
  for (const part of value.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (!name) continue;
    assert.ok(!directives.has(name.toLowerCase()), `the CSP names ${name} once`);
    directives.set(name.toLowerCase(), sources);
  }
  return directives;
}

/** The page asked for nothing outside its origin, and the browser reported no CSP violation. */
function assertSelfContained() {
  assert.deepEqual(outside, [], 'the page asked for nothing outside its own origin');
  // Chromium's console message comes first: it names the hash a blocked inline style has.
  const cspConsole = consoleMessages.filter((m) => /Content Security Policy/i.test(m));
  assert.deepEqual(cspConsole, [], 'the console shows no Content-Security-Policy message');
  assert.deepEqual(violations, [], 'the browser reported no Content-Security-Policy violation');
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
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
  // Reported from the page before any of its scripts runs (bindings and init
  // scripts are not subject to the page's CSP).
  await context.exposeBinding('__orgqlCspViolation', (_source, violation) => violations.push(violation));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__orgqlCspViolation({
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        source: e.sourceFile,
        line: e.lineNumber,
        sample: e.sample,
      });
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (['error', 'warning'].includes(message.type())) consoleMessages.push(`${message.type()}: ${message.text().slice(0, 500)}`);
  });
  page.on('request', (request) => requested.push(request.url()));
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
  // No internet: whatever is not the server itself fails, as on a machine offline.
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin === ORIGIN) return route.continue();
    outside.push(url.href);
    return route.abort('internetdisconnected');
  });
});

after(async () => {
  await context?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

describe('GraphiQL in Chromium', () => {
  test('GET /graphql with Accept: text/html serves the page with a strict Content-Security-Policy', TEST, async () => {
    const html = await fetch(HTTP_URL, { headers: { accept: 'text/html' } });
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(html.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(html.headers.get('referrer-policy'), 'no-referrer');
    csp = html.headers.get('content-security-policy');
    assert.ok(csp, 'the page has a Content-Security-Policy header');
    const directives = parseCsp(csp);
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('script-src'), ["'self'"], 'scripts only from the server itself: no inline script, no eval');
    assert.deepEqual(directives.get('connect-src'), ["'self'"], 'fetch and WebSocket only to the server itself');
    assert.deepEqual(directives.get('object-src'), ["'none'"]);
    assert.deepEqual(directives.get('base-uri'), ["'none'"]);
    assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
    for (const [name, sources] of directives) {
      for (const source of sources) {
        assert.ok(
          /^'(self|none|unsafe-hashes|sha256-[A-Za-z0-9+/]+=*)'$/.test(source) || source === 'data:',
          `${name} allows only the server itself, data: or hashes, not ${source}`,
        );
      }
    }

    const source = await html.text();
    assert.doesNotMatch(source, /<script\b(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(source, /<style\b|\sstyle=/i, 'no inline style');
    assert.doesNotMatch(source, /\bhttps?:\/\//i, 'the page names no other site');
    const assetUrls = [...source.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((u) => !u.startsWith('data:'));
    assert.ok(assetUrls.length >= 4, `the page loads React, ReactDOM and GraphiQL: ${assetUrls.join(', ')}`);
    for (const url of assetUrls) assert.ok(url.startsWith(ASSETS), `${url} is under ${ASSETS}`);

    // Each asset: served with its type and cached for good; the vendored ones
    // are the pinned npm files, orgql's own carry their hash in the name.
    for (const url of assetUrls) {
      const name = url.slice(ASSETS.length);
      const response = await fetch(new URL(url, BASE_URL));
      assert.equal(response.status, 200, `GET ${url}`);
      const ext = name.split('.').at(-1);
      assert.match(response.headers.get('content-type') ?? '', CONTENT_TYPES[ext], `the content type of ${url}`);
      assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable', `the caching of ${url}`);
      const body = Buffer.from(await response.arrayBuffer());
      const vendored = VENDORED.find((v) => v.pattern.test(name));
      if (vendored) {
        const [, version] = vendored.pattern.exec(name);
        const { file, version: pinned } = packageFile(vendored.pkg, vendored.path);
        assert.equal(version, pinned, `${name}: tests/conformance pins ${vendored.pkg}@${pinned}`);
        assert.ok(body.equals(readFileSync(file)), `${name} is ${vendored.pkg}@${pinned}/${vendored.path}`);
      } else {
        const own = OWN.exec(name);
        assert.ok(own, `${name} is a vendored file or one of orgql's own, named with its hash`);
        assert.equal(sha256(body).slice(0, 8), own[1], `${name} is named after its sha256`);
      }
    }
    for (const path of ['no-such-file.js', 'index.html', '..%2FCargo.toml']) {
      const response = await fetch(new URL(`${ASSETS}${path}`, BASE_URL));
      assert.equal(response.status, 404, `GET ${ASSETS}${path}`);
      await response.arrayBuffer();
    }

    const response = await page.goto(HTTP_URL);
    assert.equal(response.status(), 200);
    assert.equal(response.headers()['content-security-policy'], csp, 'the browser gets the same policy');
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
    await page.waitForSelector('.graphiql-query-editor .CodeMirror');
    await page.waitForSelector('.graphiql-execute-button');
    // GraphiQL fetched the schema (introspection) from the server.
    const deadline = Date.now() + 10_000;
    while (!graphqlRequests.some((r) => r.postData?.includes('IntrospectionQuery')) && Date.now() < deadline) await sleep(100);
    const introspection = graphqlRequests.find((r) => r.postData?.includes('IntrospectionQuery'));
    assert.ok(introspection, 'GraphiQL sent its IntrospectionQuery');
    assert.equal(introspection.status, 200);
    await sleep(500); // late requests (fonts, images) and violations
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-loaded.png') });

    const loaded = requested.filter((u) => !u.startsWith('data:'));
    for (const url of assetUrls) assert.ok(loaded.includes(new URL(url, BASE_URL).href), `the browser loaded ${url}`);
    for (const url of loaded) assert.equal(new URL(url).origin, ORIGIN, `${url} is on the page's origin`);
    assertSelfContained();
    console.log(`CSP: ${csp}`);
    console.log(`loaded from ${ORIGIN}: ${[...new Set(loaded.map((u) => new URL(u).pathname))].join(', ')}`);
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
    assertSelfContained();
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
        `GraphiQL opened no WebSocket to /graphql/ws; result pane:\n${await responseText()}\npage console:\n${consoleMessages.join('\n')}\nCSP violations: ${JSON.stringify(violations)}`,
      );
    }
    assert.equal(socket.url, WS_URL, 'the WebSocket goes to the page\'s own host');
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
    assertSelfContained();
  });

  test('the dialogs and the editor\'s jump-to-line box open under the CSP without a violation', TEST, async () => {
    // GraphiQL's dialogs lock scrolling with a <style> element
    // (react-remove-scroll-bar); the policy allows its text by hash.
    for (const label of ['Open settings dialog', 'Open short keys dialog']) {
      await page.click(`button[aria-label="${label}"]`);
      await page.waitForSelector('[role="dialog"]');
      await page.waitForFunction(() => document.body.hasAttribute('data-scroll-locked'));
      await sleep(200);
      assertSelfContained(); // on a failure, Chromium's console message names the hash the text now has
      const locked = await page.evaluate(() => getComputedStyle(document.body).overscrollBehavior);
      assert.equal(locked, 'contain', `the scroll lock of "${label}" applies (its <style> was not blocked)`);
      if (label === 'Open settings dialog') await page.screenshot({ path: join(ARTIFACTS, 'graphiql-settings.png') });
      await page.keyboard.press('Escape');
      await page.waitForSelector('[role="dialog"]', { state: 'detached' });
    }
    // CodeMirror's jump-to-line box (Alt-G) is markup with style attributes;
    // the policy allows those two by hash ('unsafe-hashes').
    await page.click('.graphiql-query-editor .CodeMirror-scroll');
    await page.keyboard.press('Alt+G');
    const field = await page.waitForSelector('.graphiql-query-editor .CodeMirror-dialog input.CodeMirror-search-field');
    await sleep(200);
    assertSelfContained();
    const { width, fontSize, hintColor } = await field.evaluate((el) => ({
      width: parseFloat(getComputedStyle(el).width),
      fontSize: parseFloat(getComputedStyle(el).fontSize),
      hintColor: getComputedStyle(el.parentElement.querySelector('.CodeMirror-search-hint')).color,
    }));
    assert.ok(Math.abs(width - 10 * fontSize) < 1, `the box's style="width: 10em" applies (${width}px at ${fontSize}px font)`);
    assert.equal(hintColor, 'rgb(136, 136, 136)', 'the hint\'s style="color: #888" applies');
    await page.keyboard.press('Escape');
    await sleep(300);
    assertSelfContained();
  });
});
