// Inviting people: one address with a role, or a CSV file checked row by
// row (a dry run) before anything is sent.

import { html, useState } from '../vendor/htm-preact-standalone.mjs';
import { ASSIGNABLE_ROLES, count, formatDay, label } from '../lib/format.js';
import { request, upload } from '../lib/graphql.js';
import { useAction } from '../lib/hooks.js';
import { useOrganization } from './context.js';
import { ActionDialog, Badge, Dialog, ErrorText, Field, options } from './ui.js';

const INVITE_MEMBER = `mutation InviteMember($input: InviteMemberInput!) {
  inviteMember(input: $input) { invitation { id email role expiresAt } }
}`;

const BULK_INVITE_MEMBERS = `mutation BulkInviteMembers($input: BulkInviteMembersInput!) {
  bulkInviteMembers(input: $input) {
    sent invitedCount flaggedCount
    rows { line email role status message }
  }
}`;

// The statuses that say why a row cannot be invited.
const FLAGS = new Set(['INVALID_EMAIL', 'UNKNOWN_ROLE', 'ROLE_NOT_ASSIGNABLE', 'DUPLICATE_ROW', 'ALREADY_MEMBER']);

export function InviteDialog({ onDone, onClose }) {
  const { organization, refresh } = useOrganization();
  async function submit(form) {
    const input = { organizationId: organization.id, email: form.get('email'), role: form.get('role') };
    const { inviteMember } = await request(INVITE_MEMBER, { input });
    refresh(); // invitations cause no membership event
    const { email, role, expiresAt } = inviteMember.invitation;
    return `Invitation sent to ${email} as ${label(role)}; its link works until ${formatDay(expiresAt)}.`;
  }
  return html`<${ActionDialog} title="Invite a member" buttons=${[{ label: 'Send invitation' }]} onSubmit=${submit} onDone=${onDone} onClose=${onClose}>
    <${Field} label="Email" name="email" type="email" required autocomplete="off" />
    <${Field} label="Role" as="select" name="role">${options(ASSIGNABLE_ROLES, { selected: 'MEMBER' })}</${Field}>
  </${ActionDialog}>`;
}

/**
 * Choose a file: every row comes back with its status from a dry run, the
 * flagged ones highlighted with their reason. Then send it whole, or send
 * the valid rows only (skipInvalid). The file goes up as a multipart upload.
 */
export function BulkInviteDialog({ onDone, onClose }) {
  const { organization, refresh } = useOrganization();
  const [file, setFile] = useState(null);
  const [report, setReport] = useState(null); // { ...payload, dryRun }
  const [doing, setDoing] = useState('');
  const action = useAction();

  function send(chosen, { dryRun, skipInvalid = false }) {
    setDoing(dryRun ? `Checking ${chosen.name}` : `Sending invitations from ${chosen.name}`);
    if (dryRun) setReport(null); // a new file: the old rows go
    action.run(async () => {
      const variables = { input: { organizationId: organization.id, file: null, dryRun, skipInvalid } };
      const { bulkInviteMembers } = await upload(BULK_INVITE_MEMBERS, variables, { 'input.file': chosen });
      setReport({ ...bulkInviteMembers, dryRun });
      if (bulkInviteMembers.sent) refresh();
    });
  }

  function choose(event) {
    const [chosen] = event.currentTarget.files;
    setFile(chosen ?? null);
    if (chosen) send(chosen, { dryRun: true });
  }

  const ready = report ? report.rows.length - report.flaggedCount : 0;
  const sentMessage = report?.sent && `Sent ${count(report.invitedCount, 'invitation')} from ${file.name}.`;
  // With flagged rows the whole file would be refused: what can go is the valid rows.
  const skipInvalid = report?.flaggedCount > 0;
  return html`<${Dialog} title="Bulk invite" wide onClose=${onClose}>
    <div class="stack">
      <${Field}
        label="CSV file"
        type="file"
        accept=".csv,text/csv"
        onChange=${choose}
        disabled=${action.busy}
        hint="A header line email,role, then one person per line; roles are admin, manager or member; at most 100 rows."
      />
      <div role="status" class="progress">
        ${action.busy && html`<progress aria-label=${doing}></progress> <span>${doing}…</span>`}
        ${report && !action.busy && html`<p><strong>${summary(report, sentMessage)}</strong></p>`}
      </div>
      <${ErrorText} error=${action.error} />
      ${report && html`<${RowsTable} rows=${report.rows} />`}
      <div class="buttons">
        ${
          sentMessage
            ? html`<button type="button" class="primary" onClick=${() => onDone(sentMessage)}>Done</button>`
            : html`<button type="button" onClick=${onClose}>Cancel</button>
              ${
                ready > 0 &&
                html`<button type="button" class="primary" disabled=${action.busy} onClick=${() => send(file, { dryRun: false, skipInvalid })}>
                ${skipInvalid ? `Send the ${count(ready, 'valid row')}` : `Send ${count(ready, 'invitation')}`}
              </button>`
              }`
        }
      </div>
    </div>
  </${Dialog}>`;
}

function summary(report, sentMessage) {
  if (sentMessage) return sentMessage;
  if (report.rows.length === 0) return 'The file has a header but no rows.';
  const rows = count(report.rows.length, 'row');
  if (report.flaggedCount === 0) return `${rows}, all ready to invite.`;
  const nothing = report.dryRun ? '' : ' Nothing was sent.';
  return `${rows}: ${report.flaggedCount} flagged, ${report.rows.length - report.flaggedCount} ready.${nothing}`;
}

function RowsTable({ rows }) {
  return html`<div class="scroll">
    <table class="rows">
      <caption class="visually-hidden">Rows of the file</caption>
      <thead><tr><th scope="col">Line</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Status</th></tr></thead>
      <tbody>
        ${rows.map(
          (row) => html`<tr key=${row.line} class=${FLAGS.has(row.status) ? 'flagged' : ''}>
            <td class="num">${row.line}</td>
            <td>${row.email}</td>
            <td>${row.role}</td>
            <td><${Badge} kind="row" value=${row.status} />${row.message && html` <span class="reason">${row.message}</span>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
