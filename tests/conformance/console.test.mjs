// The members console (GET /console) in headless Chromium, driven by
// playwright-core only as people would drive it: clicks, typing, the file
// chooser, the link in the invitation email. Two people, each in their own
// browser context: an owner who signs up, creates an organization, invites a
// manager, bulk-invites from a CSV file, changes the manager's role, tops up
// credits, gives the manager credits and a seat and removes them; and the
// manager, who joins from the emailed link and watches what they may do
// change on screen as the owner acts, across a dropped connection too. The
// API is used only to read back what the screens claim. Screenshots of each
// screen go to ORGQL_ARTIFACTS as console-*.png.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

import { BASE_URL, MAIL_DIR, ok, parseMail, PASSWORD, uniqueEmail, waitForInvitationToken, WS_URL } from './lib/orgql.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = process.env.ORGQL_ARTIFACTS ?? mkdtempSync(join(tmpdir(), 'orgql-console-'));
const TEST = { timeout: 90_000 }; // room for a wait or two at orgql's attempt limit
const LIVE = { timeout: 15_000 }; // for what a live event must bring on screen
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const owner = { name: 'Olga Owner', email: uniqueEmail('console-owner') };
const manager = { name: 'Mia Manager', email: uniqueEmail('console-manager') };
const bulk = [uniqueEmail('console-bulk-a'), uniqueEmail('console-bulk-b')];
const organizationName = `Console Co ${Date.now().toString(36)}`;

let browser;
let workDir;
const people = {}; // name -> { context, page, sockets, problems }

/** Everything a page did that a clean run must not: errors, CSP refusals, requests off orgql. */
function watch(page, problems) {
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text().slice(0, 300)}`);
  });
}

/**
 * A browser context whose WebSockets pass through the test, which records
 * every frame and can drop the connection and refuse new ones (`hold`).
 */
async function person(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  const sockets = { all: [], hold: false };
  await context.route('**/*', (route) => {
    if (new URL(route.request().url()).origin === BASE_URL) return route.continue();
    problems.push(`outside request: ${route.request().url()}`);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(WS_URL, (ws) => {
    if (sockets.hold) return ws.close({ code: 1012, reason: 'held off by the test' });
    const server = ws.connectToServer();
    const socket = { ws, server, sent: [], received: [] };
    sockets.all.push(socket);
    ws.onMessage((message) => {
      socket.sent.push(JSON.parse(message));
      server.send(message);
    });
    server.onMessage((message) => {
      socket.received.push(JSON.parse(message));
      ws.send(message);
    });
    return undefined;
  });
  const page = await context.newPage();
  watch(page, problems);
  people[name] = { context, page, sockets, problems };
  return people[name];
}

/**
 * Does `act` and waits for `outcome`. orgql limits sign-ins, sign-ups and
 * invitation look-ups per address (the suites before this one spend some
 * of that allowance); when the screen says to try again in N s, this waits
 * N s and does it again, as a person would.
 */
async function persist(page, act, outcome) {
  const refusal = page.getByRole('alert').filter({ hasText: /Try again in \d+ s/ });
  for (let tries = 1; ; tries += 1) {
    await act();
    await outcome.or(refusal).first().waitFor();
    if (!(await refusal.isVisible())) return;
    if (tries === 5) throw new Error(`still refused after ${tries} tries: ${await refusal.textContent()}`);
    // retryAfter is rounded down: one second more is enough.
    const seconds = Number(/Try again in (\d+) s/.exec(await refusal.textContent())[1]);
    await sleep(1000 * (seconds + 1));
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });
}

/** Polls `check` until it returns something truthy (10 s at most). */
async function until(check, what) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
    const value = check();
    if (value) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The session token the page keeps (to read back through the API, as that person). */
const tokenOf = (page) => page.evaluate(() => sessionStorage.getItem('orgql.token'));

const dialog = (page, name) => page.getByRole('dialog', { name });
const heading = (page, name) => page.getByRole('heading', { level: 1, name });
const memberRow = (page, email) => page.getByRole('row').filter({ hasText: email });
const tab = (page, name) => page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name });

/** The invitation link in the newest .eml to `email`, once it is there. */
async function invitationLink(email, since) {
  const token = await waitForInvitationToken(email, since);
  for (const name of readdirSync(MAIL_DIR).filter((n) => n.endsWith('.eml'))) {
    const mail = parseMail(readFileSync(join(MAIL_DIR, name), 'latin1'));
    const link = mail.text.match(/https?:\/\/\S+\/invitations\/accept\?token=[^\s"<>]+/g)?.find((l) => l.includes(token));
    if (mail.to.includes(email) && link) return link;
  }
  throw new Error(`no invitation link to ${email} in ${MAIL_DIR}`);
}

async function organizationState(token) {
  const data = await ok(
    `query($slug: String!) { organization(slug: $slug) {
      creditPool { available distributed total }
      seats { standard { limit assigned } pro { limit assigned } }
      members(first: 100) { nodes { role credits seat user { email } } }
      invitations(first: 100, status: PENDING) { nodes { email role } }
    } }`,
    { slug: people.owner.slug },
    token,
  );
  return data.organization;
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  workDir = mkdtempSync(join(tmpdir(), 'orgql-console-test-'));
  browser = await chromium.launch({
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
  });
  await person('owner');
  await person('manager');
});

after(async () => {
  await browser?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the members console in Chromium', () => {
  test('orgql serves the console under its content security policy, and / redirects to it', TEST, async () => {
    for (const path of ['/console', '/console/', '/invitations/accept?token=x']) {
      const response = await fetch(`${BASE_URL}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type'), /^text\/html/, path);
      assert.equal(response.headers.get('content-security-policy'), CSP, path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
      assert.match(await response.text(), /<script type="module" src="\/console\/app\.js"><\/script>/, path);
    }
    const script = await fetch(`${BASE_URL}/console/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type'), /^text\/javascript/);
    assert.equal(script.headers.get('content-security-policy'), CSP);
    const root = await fetch(`${BASE_URL}/`, { redirect: 'manual' });
    assert.equal(root.status, 303);
    assert.equal(new URL(root.headers.get('location'), BASE_URL).pathname, '/console');
  });

  test('the owner signs up and creates an organization', TEST, async () => {
    const { page, sockets } = people.owner;
    await page.goto(`${BASE_URL}/`);
    await heading(page, 'Sign in').waitFor();
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Name').fill(owner.name);
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await shot(page, 'sign-up');
    await persist(page, () => page.getByRole('button', { name: 'Create account' }).click(), heading(page, 'Your organizations'));
    await page.getByText('You are not a member of any organization yet').waitFor();
    await page.getByLabel('Name').fill(organizationName);
    await shot(page, 'organizations');
    await page.getByRole('button', { name: 'Create organization' }).click();

    await heading(page, 'Members').waitFor();
    people.owner.slug = new URL(page.url()).hash.split('/')[2];
    await memberRow(page, owner.email).getByText('Owner', { exact: true }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    const [socket] = sockets.all;
    const init = socket.sent.find((m) => m.type === 'connection_init');
    assert.deepEqual(init.payload, { authorization: `Bearer ${await tokenOf(page)}` }, 'the token goes in connection_init');
    const subscribed = await until(() => {
      const fields = socket.sent.filter((m) => m.type === 'subscribe').map((m) => /\{\s*(\w+)\(/.exec(m.payload.query)[1]);
      return fields.length === 2 && fields.sort();
    }, 'both subscriptions');
    assert.deepEqual(subscribed, ['organizationMembershipChanged', 'viewerMembershipChanged']);
    await shot(page, 'members');
  });

  test('the owner invites a manager by email', TEST, async () => {
    const { page } = people.owner;
    const since = Date.now() - 1000;
    await page.getByRole('button', { name: 'Invite member' }).click();
    const invite = dialog(page, 'Invite a member');
    await invite.getByLabel('Email').fill(manager.email);
    await invite.getByLabel('Role').selectOption({ label: 'Manager' });
    await shot(page, 'invite');
    await invite.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText(`Invitation sent to ${manager.email} as Manager`).waitFor();
    await invite.waitFor({ state: 'detached' });
    people.manager.link = await invitationLink(manager.email, since);
    assert.equal(new URL(people.manager.link).origin, BASE_URL, 'the link points at orgql (--app-url)');
  });

  test('the manager opens the emailed link, signs up there and joins', TEST, async () => {
    const { page } = people.manager;
    await persist(page, () => page.goto(people.manager.link), heading(page, `Join ${organizationName}`));
    await page.getByText(`${owner.name} invited you to join ${organizationName} as Manager`).waitFor();
    assert.equal(await page.getByLabel('Email').inputValue(), manager.email, 'the invited address is filled in');
    await page.getByLabel('Name').fill(manager.name);
    await page.getByLabel('Password').fill(PASSWORD);
    await shot(page, 'accept');
    await persist(page, () => page.getByRole('button', { name: 'Create account and join' }).click(), heading(page, 'Members'));
    assert.equal(new URL(page.url()).hash, `#/org/${people.owner.slug}/members`);
    await page.getByText('You are Manager').waitFor();
    // A manager sees billing and gives credits, but does not invite or see the audit log.
    assert.deepEqual(await page.getByRole('navigation', { name: 'Organization' }).getByRole('link').allTextContents(), [
      'Members',
      'Billing',
    ]);
    assert.equal(await page.getByRole('button', { name: 'Invite member' }).count(), 0);
    await memberRow(page, owner.email)
      .getByRole('button', { name: /^Credits/ })
      .waitFor();
    assert.equal(await memberRow(page, owner.email).getByRole('button', { name: /^Role/ }).count(), 0);
    await shot(page, 'manager-members');

    // The owner's table shows the new member without a reload: the JOINED event.
    await memberRow(people.owner.page, manager.email).getByText('Manager', { exact: true }).waitFor(LIVE);
  });

  test('a bulk CSV is checked row by row, its flagged rows shown with their reason, then its valid rows are sent', TEST, async () => {
    const { page } = people.owner;
    const csv = join(workDir, 'people.csv');
    writeFileSync(csv, `email,role\n${bulk[0]},member\nnot-an-address,member\n${bulk[1]},admin\n${manager.email},member\n`);
    const uploads = [];
    page.on('request', (request) => {
      if (request.url() === `${BASE_URL}/graphql` && /^multipart\/form-data/.test(request.headers()['content-type'] ?? ''))
        uploads.push(request.headers());
    });

    await page.getByRole('button', { name: 'Bulk invite' }).click();
    const box = dialog(page, 'Bulk invite');
    const chooser = page.waitForEvent('filechooser');
    await box.getByLabel('CSV file').click();
    await (await chooser).setFiles(csv);
    await box.getByText('4 rows: 2 flagged, 2 ready.').waitFor();
    const flagged = box.locator('tr.flagged');
    assert.equal(await flagged.count(), 2);
    await flagged.filter({ hasText: 'not-an-address' }).getByText('Invalid email').waitFor();
    await flagged.filter({ hasText: 'not-an-address' }).getByText('not a valid email address').waitFor();
    await flagged.filter({ hasText: manager.email }).getByText('Already member').waitFor();
    assert.equal(await box.getByRole('row').filter({ hasText: bulk[0] }).getByText('Ready').count(), 1);
    assert.equal(uploads.length, 1, 'the file went up as a multipart request');
    assert.equal(uploads[0]['graphql-preflight'], '1');
    assert.equal((await organizationState(await tokenOf(page))).invitations.nodes.length, 0, 'the dry run invited nobody');
    await shot(page, 'bulk-preview');

    await box.getByRole('button', { name: 'Send the 2 valid rows' }).click();
    await box.getByText('Sent 2 invitations from people.csv.').waitFor();
    assert.equal(await box.getByText('Invited', { exact: true }).count(), 2);
    await shot(page, 'bulk-sent');
    await box.getByRole('button', { name: 'Done' }).click();
    await page.getByText('Sent 2 invitations from people.csv.').waitFor();

    const pending = (await organizationState(await tokenOf(page))).invitations.nodes.map((i) => `${i.email} ${i.role}`).sort();
    assert.deepEqual(pending, [`${bulk[0]} MEMBER`, `${bulk[1]} ADMIN`].sort());
  });

  test('pending invitations can be resent and revoked', TEST, async () => {
    const { page } = people.owner;
    await tab(page, 'Invitations').click();
    await heading(page, 'Invitations').waitFor();
    await page.getByRole('row').filter({ hasText: bulk[1] }).getByText('Pending').waitFor();
    await shot(page, 'invitations');

    await page
      .getByRole('row')
      .filter({ hasText: bulk[0] })
      .getByRole('button', { name: /^Resend/ })
      .click();
    await dialog(page, 'Resend invitation').getByRole('button', { name: 'Resend' }).click();
    await page.getByText(`Sent the invitation to ${bulk[0]} again`).waitFor();

    await page
      .getByRole('row')
      .filter({ hasText: bulk[1] })
      .getByRole('button', { name: /^Revoke/ })
      .click();
    await dialog(page, 'Revoke invitation').getByRole('button', { name: 'Revoke' }).click();
    await page.getByText(`Revoked the invitation to ${bulk[1]}.`).waitFor();
    await page.getByRole('row').filter({ hasText: bulk[1] }).waitFor({ state: 'detached' });
    const pending = (await organizationState(await tokenOf(page))).invitations.nodes.map((i) => i.email);
    assert.deepEqual(pending, [bulk[0]]);
  });

  test("the owner changes the manager's role, and the manager's screen changes at once, without a reload", TEST, async () => {
    const { page } = people.owner;
    const watcher = people.manager.page;
    await watcher.evaluate(() => {
      window.stillTheSamePage = true;
    });
    await tab(page, 'Members').click();
    await memberRow(page, manager.email).getByRole('button', { name: /^Role/ }).click();
    const role = dialog(page, `Role of ${manager.name}`);
    await role.getByLabel('Role').selectOption('ADMIN');
    await role.getByRole('button', { name: 'Change role' }).click();
    await page.getByText(`${manager.name} is now Admin.`).waitFor();

    // An admin invites and reads the audit log: the button and the tab appear.
    await watcher.getByRole('button', { name: 'Invite member' }).waitFor(LIVE);
    await tab(watcher, 'Audit log').waitFor(LIVE);
    await watcher.getByText(`Your role is now Admin (changed by ${owner.name}).`).waitFor();
    await watcher.getByText('You are Admin').waitFor();
    // The members table refetches on the event: the manager's own row says Admin.
    await memberRow(watcher, manager.email).getByText('Admin', { exact: true }).waitFor(LIVE);
    assert.equal(await watcher.evaluate(() => window.stillTheSamePage), true, 'the page was not reloaded');
    await shot(watcher, 'live-role');
  });

  test('a dropped connection resumes from the last event: a change made while it was down still arrives', TEST, async () => {
    const { page } = people.owner;
    const watcher = people.manager.page;
    const { sockets } = people.manager;
    const dropped = sockets.all.at(-1);
    sockets.hold = true; // reconnection attempts are refused until released
    await dropped.server.close();
    await dropped.ws.close({ code: 1012, reason: 'dropped by the test' });
    const delivered = dropped.received.slice();
    const lastCursor = (id) => delivered.filter((m) => m.type === 'next' && m.id === id).at(-1)?.payload.data;
    await watcher.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor();
    await shot(watcher, 'reconnecting');

    await memberRow(page, manager.email).getByRole('button', { name: /^Role/ }).click();
    const role = dialog(page, `Role of ${manager.name}`);
    await role.getByLabel('Role').selectOption('MEMBER');
    await role.getByRole('button', { name: 'Change role' }).click();
    await page.getByText(`${manager.name} is now Member.`).waitFor();
    assert.equal(await watcher.getByRole('button', { name: 'Invite member' }).count(), 1, 'nothing reached the watcher yet');

    sockets.hold = false;
    await watcher.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 20_000 });
    // A member neither invites nor sees billing.
    await watcher.getByRole('button', { name: 'Invite member' }).waitFor({ state: 'detached', ...LIVE });
    await tab(watcher, 'Billing').waitFor({ state: 'detached', ...LIVE });
    await watcher.getByText('You are Member').waitFor();

    // Each stream came back with `after`: the cursor of the last event it had.
    const resumed = sockets.all.at(-1).sent.filter((m) => m.type === 'subscribe');
    const cursors = dropped.sent
      .filter((m) => m.type === 'subscribe')
      .map((m) => {
        const data = lastCursor(m.id);
        return data ? Object.values(data)[0].cursor : null;
      });
    assert.equal(resumed.length, 2);
    assert.deepEqual(
      resumed.map((m) => m.payload.variables.after ?? null).sort(),
      cursors.sort(),
      'each subscription resumed after the last cursor it received',
    );
    assert.ok(cursors.some(Boolean), 'the streams had received events before the drop');
  });

  test('the owner tops up credits, gives the member credits and a seat, removes them and sees what came back', TEST, async () => {
    const { page } = people.owner;
    await tab(page, 'Billing').click();
    await heading(page, 'Billing').waitFor();
    await page.getByLabel('Credits to add').fill('500');
    await page.getByRole('button', { name: 'Add credits' }).click();
    await page.getByText('Added 500 credits: the pool holds 500 in all, 500 available.').waitFor();
    await page.getByLabel('Standard seats').fill('5');
    await page.getByLabel('Pro seats').fill('1');
    await page.getByRole('button', { name: 'Save seat limits' }).click();
    await page.getByText('Seat limits set: 5 Standard, 1 Pro.').waitFor();
    await shot(page, 'billing');

    await tab(page, 'Members').click();
    await memberRow(page, manager.email)
      .getByRole('button', { name: /^Credits/ })
      .click();
    const credits = dialog(page, `Credits of ${manager.name}`);
    await credits.getByText('The pool has 500 available.').waitFor();
    // A refusal stays in the dialog, in words, beside the buttons.
    await credits.getByLabel('Amount').fill('5000');
    await credits.getByRole('button', { name: 'Give from the pool' }).click();
    await credits.getByRole('alert').filter({ hasText: 'The pool holds 500 credits, fewer than 5000.' }).waitFor();
    await credits.getByLabel('Amount').fill('40');
    await shot(page, 'credits');
    await credits.getByRole('button', { name: 'Give from the pool' }).click();
    await page.getByText(`Gave 40 credits to ${manager.name}: they hold 40; the pool has 460 available.`).waitFor();
    await memberRow(page, manager.email).getByRole('cell', { name: '40', exact: true }).waitFor();

    await memberRow(page, manager.email).getByRole('button', { name: /^Seat/ }).click();
    const seat = dialog(page, `Seat of ${manager.name}`);
    await seat.getByLabel('Seat').selectOption('STANDARD');
    await seat.getByRole('button', { name: 'Assign seat' }).click();
    await page.getByText(`${manager.name} now holds a Standard seat.`).waitFor();
    await memberRow(page, manager.email).getByRole('cell', { name: 'Standard', exact: true }).waitFor();
    // The member sees their own credits and seat, live.
    await memberRow(people.manager.page, manager.email).getByRole('cell', { name: 'Standard', exact: true }).waitFor(LIVE);

    await memberRow(page, manager.email)
      .getByRole('button', { name: /^Remove/ })
      .click();
    const remove = dialog(page, 'Remove member');
    await remove.getByText(`Remove ${manager.name} (${manager.email}) from ${organizationName}?`).waitFor();
    await shot(page, 'remove');
    await remove.getByRole('button', { name: 'Remove member' }).click();
    await page.getByText(`Removed ${manager.name} (${manager.email}): 40 credits returned to the pool; Standard seat released.`).waitFor();
    await memberRow(page, manager.email).waitFor({ state: 'detached' });
    await shot(page, 'removed');

    const state = await organizationState(await tokenOf(page));
    assert.deepEqual(state.creditPool, { available: 500, distributed: 0, total: 500 });
    assert.deepEqual(state.seats.standard, { limit: 5, assigned: 0 });
    assert.deepEqual(
      state.members.nodes.map((m) => m.user.email),
      [owner.email],
    );

    const watcher = people.manager.page;
    await heading(watcher, `You are no longer a member of ${organizationName}`).waitFor(LIVE);
    await shot(watcher, 'manager-removed');
  });

  test('the audit log lists it all, newest first', TEST, async () => {
    const { page } = people.owner;
    await tab(page, 'Audit log').click();
    await heading(page, 'Audit log').waitFor();
    await page.getByRole('row').filter({ hasText: 'member.removed' }).waitFor();
    const actions = await page.locator('tbody td code').allTextContents();
    assert.deepEqual(actions, [
      'member.removed',
      'seat.assigned',
      'credits.distributed',
      'seats.limits_set',
      'credits.added',
      'member.role_changed',
      'member.role_changed',
      'member.invitation_revoked',
      'member.invitation_resent',
      'member.bulk_invited',
      'member.joined',
      'member.invited',
      'organization.created',
    ]);
    await shot(page, 'audit');
  });

  test('a former member with an account signs in from a new invitation link and joins again', TEST, async () => {
    const { page } = people.owner;
    const since = Date.now() - 1000;
    await tab(page, 'Members').click();
    await page.getByRole('button', { name: 'Invite member' }).click();
    const invite = dialog(page, 'Invite a member');
    await invite.getByLabel('Email').fill(manager.email);
    await invite.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText(`Invitation sent to ${manager.email} as Member`).waitFor();
    const link = await invitationLink(manager.email, since);

    // A new tab has a session of its own (sessionStorage): signed out.
    const tab2 = await people.manager.context.newPage();
    watch(tab2, people.manager.problems);
    await persist(tab2, () => tab2.goto(link), heading(tab2, `Join ${organizationName}`));
    await tab2.getByText('Sign in to accept.').waitFor();
    assert.equal(await tab2.getByLabel('Email').inputValue(), manager.email);
    await tab2.getByLabel('Password').fill(PASSWORD);
    await shot(tab2, 'accept-sign-in');
    // Signed in, a refused join is offered again as "Join …".
    const joinButton = tab2.getByRole('button', { name: /^(Sign in and join|Join )/ });
    await persist(tab2, () => joinButton.click(), heading(tab2, 'Members'));
    await tab2.getByText('You are Member').waitFor();
    await memberRow(page, manager.email).getByText('Member', { exact: true }).waitFor(LIVE);
    await tab2.close();
  });

  test('at phone width the screens fit, and dialogs take and give back the keyboard focus', TEST, async () => {
    const { page } = people.owner;
    await page.setViewportSize({ width: 390, height: 844 });
    await tab(page, 'Members').click();
    await heading(page, 'Members').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `nothing is wider than the phone's screen (overflow ${overflow}px)`);
    await shot(page, 'phone-members');

    const opener = page.getByRole('button', { name: 'Invite member' });
    await opener.focus();
    await page.keyboard.press('Enter');
    const invite = dialog(page, 'Invite a member');
    await invite.waitFor();
    assert.ok(await invite.getByLabel('Email').evaluate((input) => input === document.activeElement), 'focus moves to its first field');
    await page.keyboard.type(bulk[0]); // the keyboard alone fills it in
    await shot(page, 'phone-invite');
    await page.keyboard.press('Escape');
    await invite.waitFor({ state: 'detached' });
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent),
      'Invite member',
      'focus returns to the button that opened it',
    );
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('signing out ends the session on the server; signing in again opens the organizations', TEST, async () => {
    const { page } = people.owner;
    const token = await tokenOf(page);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading(page, 'Sign in').waitFor();
    assert.equal(await tokenOf(page), null);
    const { viewer } = await ok('{ viewer { user { id } } }', {}, token);
    assert.equal(viewer, null, 'logOut ended the token');

    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill(PASSWORD);
    // The address still names the organization's screen.
    await persist(page, () => page.getByRole('button', { name: 'Sign in' }).click(), heading(page, 'Members'));
    await page.getByRole('link', { name: 'orgql members console' }).click();
    await heading(page, 'Your organizations').waitFor();
    await page
      .getByRole('link', { name: new RegExp(organizationName) })
      .getByText('Owner')
      .waitFor();
  });

  test('neither page had an error, a refused resource or a request off orgql', TEST, () => {
    for (const [name, { problems }] of Object.entries(people)) assert.deepEqual(problems, [], `${name}'s page`);
  });
});
