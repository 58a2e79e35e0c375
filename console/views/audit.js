// The audit log: every change to the organization, newest first.

import { html } from '../vendor/htm-preact-standalone.mjs';
import { count, formatMoment } from '../lib/format.js';
import { usePages, useQuery } from '../lib/hooks.js';
import { useOrganization } from './context.js';
import { ErrorText, Loading, PageHeading, Pager } from './ui.js';

const PAGE_SIZE = 25;

const AUDIT_LOG = `query AuditLog($organizationId: ID!, $first: Int!, $after: String) {
  organization(id: $organizationId) {
    auditLog(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id action actor { name email } targetEmail details at }
    }
  }
}`;

// The actions orgql records (README, "Managing members"), said for people;
// an action not listed shows as its code.
const ACTIONS = {
  'organization.created': 'Created the organization',
  'organization.updated': 'Changed the organization',
  'credits.added': 'Added credits to the pool',
  'credits.distributed': 'Gave credits',
  'credits.reclaimed': 'Took credits back',
  'seats.limits_set': 'Set seat limits',
  'seat.assigned': 'Assigned a seat',
  'member.role_changed': 'Changed a role',
  'member.removed': 'Removed a member',
  'member.left': 'Left the organization',
  'ownership.transferred': 'Transferred ownership',
  'member.invited': 'Invited',
  'member.reinvited': 'Invited again',
  'member.invitation_resent': 'Resent an invitation',
  'member.invitation_revoked': 'Revoked an invitation',
  'member.bulk_invited': 'Invited from a CSV file',
  'member.joined': 'Joined',
};

/** The JSON details as "key: value" pairs. */
function Details({ json }) {
  if (!json) return null;
  const entries = Object.entries(JSON.parse(json));
  return html`<dl class="details">
    ${entries.map(([key, value]) => html`<div key=${key}><dt>${key.replaceAll('_', ' ')}</dt><dd>${typeof value === 'object' ? JSON.stringify(value) : String(value)}</dd></div>`)}
  </dl>`;
}

export function AuditPage() {
  const { organization, revision } = useOrganization();
  const pages = usePages();
  const { data, error } = useQuery(AUDIT_LOG, { organizationId: organization.id, first: PAGE_SIZE, after: pages.after }, { revision });
  const log = data?.organization?.auditLog;
  return html`
    <div class="page-head"><${PageHeading} title=${`Audit log · ${organization.name}`}>Audit log</${PageHeading}></div>
    <${ErrorText} error=${error} />
    ${!log && !error && html`<${Loading} what="Loading the audit log" />`}
    ${
      log &&
      html`<p class="summary">${count(log.totalCount, 'entry', 'entries')}, newest first</p>
      <table class="cards">
        <caption class="visually-hidden">Audit log</caption>
        <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">By</th><th scope="col">Member</th><th scope="col">Details</th></tr></thead>
        <tbody>
          ${log.nodes.map(
            (entry) => html`<tr key=${entry.id}>
              <th scope="row"><time datetime=${entry.at}>${formatMoment(entry.at)}</time></th>
              <td data-label="What">${ACTIONS[entry.action] ?? entry.action} <code>${entry.action}</code></td>
              <td data-label="By">${entry.actor ? entry.actor.name : '—'}</td>
              <td data-label="Member">${entry.targetEmail ?? '—'}</td>
              <td data-label="Details"><${Details} json=${entry.details} /></td>
            </tr>`,
          )}
        </tbody>
      </table>
      <${Pager} pages=${pages} pageInfo=${log.pageInfo} what="Audit log" />`
    }
  `;
}
