// Helpers shared by the suites: GraphQL over HTTP, accounts, organizations,
// and the invitation flow through the .eml files of the server's mail dir.
//
// The server is the one run.sh started: ORGQL_URL (http://127.0.0.1:PORT)
// and ORGQL_MAIL_DIR come from the environment.

import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const BASE_URL = required('ORGQL_URL');
export const HTTP_URL = `${BASE_URL}/graphql`;
export const WS_URL = `${BASE_URL.replace(/^http/, 'ws')}/graphql/ws`;
export const MAIL_DIR = required('ORGQL_MAIL_DIR');
export const PASSWORD = 'correct horse battery';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the suites through tests/conformance/run.sh`);
  }
  return value;
}

/** A unique e-mail address, so that suites sharing one database never collide. */
export function uniqueEmail(prefix) {
  return `${prefix}-${randomBytes(5).toString('hex')}@example.com`;
}

/** POSTs a GraphQL request; returns { status, body } (body parsed as JSON when it is JSON). */
export async function gql(query, variables = {}, token = undefined) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(HTTP_URL, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

/** The data of a request that must succeed (HTTP 200, no errors). */
export async function ok(query, variables = {}, token = undefined) {
  const { status, body } = await gql(query, variables, token);
  if (status !== 200 || typeof body !== 'object' || body.errors || !body.data) {
    throw new Error(
      `GraphQL request failed: HTTP ${status} ${JSON.stringify(body)}\nquery: ${query}\nvariables: ${JSON.stringify(variables)}`,
    );
  }
  return body.data;
}

/** Signs up a new account: { token, userId, email }. */
export async function signUp(email, name = email.split('@')[0]) {
  const data = await ok(
    'mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }',
    { input: { email, name, password: PASSWORD } },
  );
  return { token: data.signUp.token, userId: data.signUp.user.id, email };
}

export async function createOrganization(token, name) {
  const data = await ok(
    'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }',
    { input: { name } },
    token,
  );
  return data.createOrganization.organization.id;
}

/**
 * Invites `email` and returns the invitation token from the link in the
 * newest .eml file addressed to it (inviteMember itself never returns it).
 */
export async function inviteAndReadToken(ownerToken, organizationId, email, role = 'MEMBER') {
  const since = Date.now() - 1000;
  await ok(
    'mutation($input: InviteMemberInput!) { inviteMember(input: $input) { invitation { id status } } }',
    { input: { organizationId, email, role } },
    ownerToken,
  );
  return waitForInvitationToken(email, since);
}

/** Polls the mail dir (up to 15 s) for an invitation to `email` written after `since` (ms). */
export async function waitForInvitationToken(email, since = 0, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const token = await newestInvitationToken(email, since);
    if (token) return token;
    if (Date.now() > deadline) {
      throw new Error(`no invitation mail to ${email} appeared in ${MAIL_DIR} within ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

async function newestInvitationToken(email, since) {
  let names;
  try {
    names = (await readdir(MAIL_DIR)).filter((n) => n.endsWith('.eml'));
  } catch {
    return undefined;
  }
  const files = [];
  for (const name of names) {
    const path = join(MAIL_DIR, name);
    const { mtimeMs } = await stat(path);
    if (mtimeMs >= since) files.push({ path, mtimeMs });
  }
  files.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { path } of files) {
    const mail = parseMail(await readFile(path, 'latin1'));
    if (!mail.to.toLowerCase().includes(email.toLowerCase())) continue;
    // Not the verification mail a sign-up gets.
    const match = /\/invitations\/accept\?token=([A-Za-z0-9_\-.~%]+)/.exec(mail.text);
    if (match) return decodeURIComponent(match[1]);
  }
  return undefined;
}

/** Just enough MIME: the To header and every text part, transfer-decoded. */
export function parseMail(raw) {
  const [head] = raw.split(/\r?\n\r?\n/, 1);
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const to = /^To:\s*(.*)$/im.exec(unfolded)?.[1] ?? '';
  return { to, text: decodeParts(raw) };
}

function decodeParts(entity) {
  const split = /\r?\n\r?\n/.exec(entity);
  if (!split) return entity;
  const head = entity.slice(0, split.index).replace(/\r?\n[ \t]+/g, ' ');
  const body = entity.slice(split.index + split[0].length);
  const contentType = /^Content-Type:\s*(.*)$/im.exec(head)?.[1] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (/^multipart\//i.test(contentType) && boundary) {
    return body
      .split(`--${boundary}`)
      .slice(1)
      .filter((part) => !part.startsWith('--'))
      .map((part) => decodeParts(part.replace(/^\r?\n/, '')))
      .join('\n');
  }
  const encoding = (/^Content-Transfer-Encoding:\s*(\S+)/im.exec(head)?.[1] ?? '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/**
 * An owner with an organization and a second user who joined it as MEMBER
 * through the real invitation flow (invite, .eml link, acceptInvitation):
 * { owner, member, organizationId, memberId }.
 */
export async function ownerAndMember(prefix = 'conf') {
  const owner = await signUp(uniqueEmail(`${prefix}-owner`));
  const organizationId = await createOrganization(owner.token, `Acme ${prefix} ${randomBytes(3).toString('hex')}`);
  const member = await signUp(uniqueEmail(`${prefix}-ada`));
  const invitationToken = await inviteAndReadToken(owner.token, organizationId, member.email, 'MEMBER');
  const data = await ok(
    'mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { member { id role user { id } } } }',
    { input: { token: invitationToken } },
    member.token,
  );
  const accepted = data.acceptInvitation.member;
  if (accepted.role !== 'MEMBER' || accepted.user.id !== member.userId) {
    throw new Error(`acceptInvitation returned an unexpected member: ${JSON.stringify(accepted)}`);
  }
  return { owner, member, organizationId, memberId: accepted.id };
}

export async function updateMemberRole(ownerToken, memberId, role) {
  const data = await ok(
    'mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { id role } } }',
    { input: { memberId, role } },
    ownerToken,
  );
  return data.updateMemberRole.member;
}
