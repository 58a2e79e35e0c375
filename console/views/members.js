// Members: the paginated directory, with search, role filter and order, and
// what the viewer may do to each member.

import { html, useState } from '../vendor/htm-preact-standalone.mjs';
import { count, formatDay, formatNumber, ROLES, seatLabel } from '../lib/format.js';
import { useDebounced, usePages, useQuery } from '../lib/hooks.js';
import { useOrganization, useSession } from './context.js';
import { BulkInviteDialog, InviteDialog } from './invite.js';
import { MEMBER_ACTIONS } from './member-actions.js';
import { Badge, ErrorText, Field, Hidden, Loading, OpenDialog, options, PageHeading, Pager, useDialog } from './ui.js';

const PAGE_SIZE = 20;
const ORDER_FIELDS = { JOINED_AT: 'Joined', EMAIL: 'Email', NAME: 'Name', ROLE: 'Role' };

const MEMBERS = `query Members($organizationId: ID!, $first: Int!, $after: String, $role: Role, $query: String, $orderBy: MemberOrder!) {
  organization(id: $organizationId) {
    members(first: $first, after: $after, role: $role, query: $query, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id role credits seat joinedAt user { id name email } }
    }
  }
}`;

export function MembersPage() {
  const { organization, can, revision, notify } = useOrganization();
  const [search, setSearch] = useState('');
  const [role, setRole] = useState('');
  const [orderBy, setOrderBy] = useState({ field: 'JOINED_AT', direction: 'ASC' });
  const query = useDebounced(search.trim());
  const filters = { role: role || null, query: query || null, orderBy };
  const pages = usePages(JSON.stringify(filters));
  const { data, error, loading } = useQuery(
    MEMBERS,
    { organizationId: organization.id, first: PAGE_SIZE, after: pages.after, ...filters },
    { revision },
  );
  const members = data?.organization?.members;
  const dialog = useDialog(notify);

  return html`
    <div class="page-head">
      <${PageHeading} title=${`Members · ${organization.name}`}>Members</${PageHeading}>
      ${
        can('MANAGE_MEMBERS') &&
        html`<div class="head-actions">
        <button type="button" class="primary" onClick=${() => dialog.show({ Dialog: InviteDialog })}>Invite member</button>
        <button type="button" onClick=${() => dialog.show({ Dialog: BulkInviteDialog })}>Bulk invite</button>
      </div>`
      }
    </div>
    <form class="toolbar" role="search" onSubmit=${(e) => e.preventDefault()}>
      <${Field} label="Search" type="search" placeholder="Name or email" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} />
      <${Field} label="Role" as="select" value=${role} onChange=${(e) => setRole(e.currentTarget.value)}>
        <option value="">All roles</option>
        ${options(ROLES)}
      </${Field}>
      <${Field} label="Order by" as="select" value=${orderBy.field} onChange=${(e) => setOrderBy({ ...orderBy, field: e.currentTarget.value })}>
        ${options(Object.keys(ORDER_FIELDS), { text: (field) => ORDER_FIELDS[field] })}
      </${Field}>
      <${Field} label="Direction" as="select" value=${orderBy.direction} onChange=${(e) => setOrderBy({ ...orderBy, direction: e.currentTarget.value })}>
        <option value="ASC">Ascending</option>
        <option value="DESC">Descending</option>
      </${Field}>
    </form>
    <${ErrorText} error=${error} />
    ${!members && !error && html`<${Loading} what="Loading members" />`}
    ${
      members &&
      html`<p class="summary">${count(members.totalCount, query || role ? 'matching member' : 'member')}${loading ? ' · updating…' : ''}</p>
      <${MembersTable} members=${members.nodes} onAction=${dialog.show} />
      <${Pager} pages=${pages} pageInfo=${members.pageInfo} what="Members" />`
    }
    <${OpenDialog} dialog=${dialog} />
  `;
}

function MembersTable({ members, onAction }) {
  const { user } = useSession();
  const { can } = useOrganization();
  if (members.length === 0) return html`<p class="empty">No members on this page.</p>`;
  const hidden = html`<span aria-hidden="true">—</span><${Hidden}>Not visible to your role</${Hidden}>`;
  return html`<table class="cards">
    <caption class="visually-hidden">Members</caption>
    <thead>
      <tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">Seat</th><th scope="col" class="num">Credits</th><th scope="col">Joined</th><th scope="col">Actions</th></tr>
    </thead>
    <tbody>
      ${members.map((member) => {
        const isSelf = member.user.id === user.id;
        const actions = MEMBER_ACTIONS.filter(({ offered }) => offered({ can, member, isSelf }));
        return html`<tr key=${member.id}>
          <th scope="row">
            <span class="person">${member.user.name}${isSelf && html` <span class="tag">you</span>`}</span>
            <span class="email">${member.user.email}</span>
          </th>
          <td data-label="Role"><${Badge} value=${member.role} /></td>
          <td data-label="Seat">${member.seat === null ? hidden : seatLabel(member.seat)}</td>
          <td data-label="Credits" class="num">${member.credits === null ? hidden : formatNumber(member.credits)}</td>
          <td data-label="Joined"><time datetime=${member.joinedAt}>${formatDay(member.joinedAt)}</time></td>
          <td data-label="Actions">
            <div class="row-actions">
              ${actions.map(
                ({
                  key,
                  text,
                  Dialog,
                }) => html`<button type="button" key=${key} class="small" onClick=${() => onAction({ Dialog, member })}>
                  ${text}<${Hidden}>: ${member.user.name}</${Hidden}>
                </button>`,
              )}
            </div>
          </td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}
