// Invitations: who was invited, with resend and revoke for the open ones.

import { html, useState } from '../vendor/htm-preact-standalone.mjs';
import { count, formatDay } from '../lib/format.js';
import { request } from '../lib/graphql.js';
import { usePages, useQuery } from '../lib/hooks.js';
import { useOrganization } from './context.js';
import { InviteDialog } from './invite.js';
import { ActionDialog, Badge, ErrorText, Field, Hidden, Loading, OpenDialog, options, PageHeading, Pager, useDialog } from './ui.js';

const PAGE_SIZE = 20;
const STATUSES = ['PENDING', 'EXPIRED', 'ACCEPTED', 'REVOKED'];

const INVITATIONS = `query Invitations($organizationId: ID!, $first: Int!, $after: String, $status: InvitationStatus) {
  organization(id: $organizationId) {
    invitations(first: $first, after: $after, status: $status) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id email role status createdAt expiresAt invitedBy { name } }
    }
  }
}`;

const RESEND_INVITATION = `mutation ResendInvitation($input: InvitationIdInput!) {
  resendInvitation(input: $input) { invitation { id status expiresAt } }
}`;

const REVOKE_INVITATION = `mutation RevokeInvitation($input: InvitationIdInput!) {
  revokeInvitation(input: $input) { invitation { id status } }
}`;

/** Resending makes a new link (the old one stops working); revoking ends it. */
const INVITATION_ACTIONS = [
  {
    key: 'resend',
    text: 'Resend',
    offered: (status) => status === 'PENDING' || status === 'EXPIRED',
    confirm: (i) => `Send the invitation to ${i.email} again? It gets a new link and a new expiry; the link sent before stops working.`,
    async run(invitation) {
      const { resendInvitation } = await request(RESEND_INVITATION, { input: { invitationId: invitation.id } });
      return `Sent the invitation to ${invitation.email} again; its link works until ${formatDay(resendInvitation.invitation.expiresAt)}.`;
    },
  },
  {
    key: 'revoke',
    text: 'Revoke',
    danger: true,
    offered: (status) => status === 'PENDING',
    confirm: (i) => `Revoke the invitation to ${i.email}? Its link stops working.`,
    async run(invitation) {
      await request(REVOKE_INVITATION, { input: { invitationId: invitation.id } });
      return `Revoked the invitation to ${invitation.email}.`;
    },
  },
];

/** Asks before a resend or a revoke, then does it. */
function InvitationActionDialog({ action, invitation, onDone, onClose }) {
  const { refresh } = useOrganization();
  async function submit() {
    const message = await action.run(invitation);
    refresh(); // invitations cause no membership event
    return message;
  }
  return html`<${ActionDialog}
    title=${`${action.text} invitation`}
    buttons=${[{ label: action.text, danger: action.danger }]}
    onSubmit=${submit}
    onDone=${onDone}
    onClose=${onClose}
  >
    <p>${action.confirm(invitation)}</p>
  </${ActionDialog}>`;
}

export function InvitationsPage() {
  const { organization, revision, notify } = useOrganization();
  const [status, setStatus] = useState('PENDING');
  const pages = usePages(status);
  const { data, error } = useQuery(
    INVITATIONS,
    { organizationId: organization.id, first: PAGE_SIZE, after: pages.after, status: status || null },
    { revision },
  );
  const invitations = data?.organization?.invitations;
  const dialog = useDialog(notify);

  return html`
    <div class="page-head">
      <${PageHeading} title=${`Invitations · ${organization.name}`}>Invitations</${PageHeading}>
      <div class="head-actions">
        <button type="button" class="primary" onClick=${() => dialog.show({ Dialog: InviteDialog })}>Invite member</button>
      </div>
    </div>
    <div class="toolbar">
      <${Field} label="Status" as="select" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
        ${options(STATUSES)}
        <option value="">All</option>
      </${Field}>
    </div>
    <${ErrorText} error=${error} />
    ${!invitations && !error && html`<${Loading} what="Loading invitations" />`}
    ${
      invitations &&
      html`<p class="summary">${count(invitations.totalCount, 'invitation')}</p>
      ${
        invitations.nodes.length === 0
          ? html`<p class="empty">No invitations here.</p>`
          : html`<table class="cards">
            <caption class="visually-hidden">Invitations</caption>
            <thead>
              <tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Invited by</th><th scope="col">Sent</th><th scope="col">Expires</th><th scope="col">Actions</th></tr>
            </thead>
            <tbody>
              ${invitations.nodes.map(
                (invitation) => html`<tr key=${invitation.id}>
                  <th scope="row">${invitation.email}</th>
                  <td data-label="Role"><${Badge} value=${invitation.role} /></td>
                  <td data-label="Status"><${Badge} kind="status" value=${invitation.status} /></td>
                  <td data-label="Invited by">${invitation.invitedBy?.name ?? '—'}</td>
                  <td data-label="Sent">${formatDay(invitation.createdAt)}</td>
                  <td data-label="Expires">${formatDay(invitation.expiresAt)}</td>
                  <td data-label="Actions">
                    <div class="row-actions">
                      ${INVITATION_ACTIONS.filter((a) => a.offered(invitation.status)).map(
                        (
                          action,
                        ) => html`<button type="button" key=${action.key} class="small" onClick=${() => dialog.show({ Dialog: InvitationActionDialog, action, invitation })}>
                          ${action.text}<${Hidden}>: ${invitation.email}</${Hidden}>
                        </button>`,
                      )}
                    </div>
                  </td>
                </tr>`,
              )}
            </tbody>
          </table>`
      }
      <${Pager} pages=${pages} pageInfo=${invitations.pageInfo} what="Invitations" />`
    }
    <${OpenDialog} dialog=${dialog} />
  `;
}
