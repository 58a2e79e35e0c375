// What can be done to one member, each in its own dialog. MEMBER_ACTIONS
// says when each is offered; the server checks the same permissions again.

import { html } from '../vendor/htm-preact-standalone.mjs';
import { ASSIGNABLE_ROLES, count, formatNumber, label, SEATS, seatLabel } from '../lib/format.js';
import { request } from '../lib/graphql.js';
import { useQuery } from '../lib/hooks.js';
import { href, navigate } from '../lib/router.js';
import { BILLING } from './billing.js';
import { useOrganization } from './context.js';
import { ActionDialog, Field, options } from './ui.js';

const UPDATE_MEMBER_ROLE = `mutation UpdateMemberRole($input: UpdateMemberRoleInput!) {
  updateMemberRole(input: $input) { member { id role } }
}`;

/** distributeCredits or reclaimCredits: the same input, the same payload. */
const moveCredits = (field) => `mutation MoveCredits($input: CreditsInput!) {
  ${field}(input: $input) { member { id credits } creditPool { available } }
}`;

const ASSIGN_SEAT = `mutation AssignSeat($input: AssignSeatInput!) {
  assignSeat(input: $input) { member { id seat } }
}`;

const TRANSFER_OWNERSHIP = `mutation TransferOwnership($input: TransferOwnershipInput!) {
  transferOwnership(input: $input) { newOwner { id } }
}`;

const REMOVE_MEMBER = `mutation RemoveMember($input: RemoveMemberInput!) {
  removeMember(input: $input) { creditsReturned seatReleased }
}`;

const LEAVE_ORGANIZATION = `mutation LeaveOrganization($input: LeaveOrganizationInput!) {
  leaveOrganization(input: $input) { creditsReturned seatReleased }
}`;

const ROLE_SUMMARIES = {
  ADMIN: 'everything but handing over ownership: members, invitations, billing, the audit log',
  MANAGER: 'sees billing and gives members credits and seats',
  MEMBER: 'sees the member directory',
};

const who = (member) => member.user.name || member.user.email;

/** What a removal gave back, in words. */
const givenBack = ({ creditsReturned, seatReleased }) =>
  `${count(creditsReturned, 'credit')} returned to the pool; ${seatReleased === 'NONE' ? 'no seat to release' : `${label(seatReleased)} seat released`}.`;

function RoleDialog({ member, onDone, onClose }) {
  async function submit(form) {
    const role = form.get('role');
    await request(UPDATE_MEMBER_ROLE, { input: { memberId: member.id, role } });
    return `${who(member)} is now ${label(role)}.`;
  }
  return html`<${ActionDialog} title=${`Role of ${who(member)}`} buttons=${[{ label: 'Change role' }]} onSubmit=${submit} onDone=${onDone} onClose=${onClose}>
    <${Field} label="Role" as="select" name="role">${options(ASSIGNABLE_ROLES, { selected: member.role })}</${Field}>
    <ul class="hint-list">
      ${ASSIGNABLE_ROLES.map((role) => html`<li key=${role}><strong>${label(role)}</strong>: ${ROLE_SUMMARIES[role]}</li>`)}
    </ul>
  </${ActionDialog}>`;
}

/** The pool and seat inventory, for those whose role shows them. */
function useBilling() {
  const { organization, can } = useOrganization();
  return useQuery(BILLING, { organizationId: organization.id }, { skip: !can('VIEW_BILLING') }).data?.organization;
}

function CreditsDialog({ member, onDone, onClose }) {
  const billing = useBilling();
  async function submit(form, field) {
    const amount = Number(form.get('amount'));
    const { [field]: moved } = await request(moveCredits(field), { input: { memberId: member.id, amount } });
    const what = field === 'distributeCredits' ? `Gave ${count(amount, 'credit')} to` : `Took ${count(amount, 'credit')} back from`;
    return `${what} ${who(member)}: they hold ${formatNumber(moved.member.credits)}; the pool has ${formatNumber(moved.creditPool.available)} available.`;
  }
  const buttons = [
    { label: 'Give from the pool', value: 'distributeCredits' },
    { label: 'Take back to the pool', value: 'reclaimCredits' },
  ];
  return html`<${ActionDialog} title=${`Credits of ${who(member)}`} buttons=${buttons} onSubmit=${submit} onDone=${onDone} onClose=${onClose}>
    <p>
      ${who(member)} holds ${count(member.credits ?? 0, 'credit')}.
      ${billing && ` The pool has ${formatNumber(billing.creditPool.available)} available.`}
    </p>
    <${Field} label="Amount" name="amount" type="number" min="1" step="1" inputmode="numeric" required />
  </${ActionDialog}>`;
}

function SeatDialog({ member, onDone, onClose }) {
  const billing = useBilling();
  const free = (seat) => {
    const tier = billing?.seats[seat.toLowerCase()];
    return tier ? ` (${formatNumber(tier.limit - tier.assigned)} of ${formatNumber(tier.limit)} free)` : '';
  };
  async function submit(form) {
    const seat = form.get('seat');
    await request(ASSIGN_SEAT, { input: { memberId: member.id, seat } });
    return seat === 'NONE' ? `${who(member)} no longer holds a seat.` : `${who(member)} now holds a ${label(seat)} seat.`;
  }
  return html`<${ActionDialog} title=${`Seat of ${who(member)}`} buttons=${[{ label: 'Assign seat' }]} onSubmit=${submit} onDone=${onDone} onClose=${onClose}>
    <${Field} label="Seat" as="select" name="seat">
      ${options(SEATS, { text: (seat) => seatLabel(seat) + free(seat), selected: member.seat ?? 'NONE' })}
    </${Field}>
  </${ActionDialog}>`;
}

function TransferDialog({ member, onDone, onClose }) {
  const { organization } = useOrganization();
  async function submit() {
    await request(TRANSFER_OWNERSHIP, { input: { organizationId: organization.id, memberId: member.id } });
    return `${who(member)} is now the owner of ${organization.name}; you are an admin.`;
  }
  return html`<${ActionDialog} title="Transfer ownership" buttons=${[{ label: 'Transfer ownership', danger: true }]} onSubmit=${submit} onDone=${onDone} onClose=${onClose}>
    <p>Make <strong>${who(member)}</strong> the owner of ${organization.name}? You become an admin, and only the new owner can hand ownership on again.</p>
  </${ActionDialog}>`;
}

function RemoveDialog({ member, onDone, onClose }) {
  const { organization } = useOrganization();
  async function submit() {
    const { removeMember } = await request(REMOVE_MEMBER, { input: { memberId: member.id } });
    return `Removed ${who(member)} (${member.user.email}): ${givenBack(removeMember)}`;
  }
  return html`<${ActionDialog} title="Remove member" buttons=${[{ label: 'Remove member', danger: true }]} onSubmit=${submit} onDone=${onDone} onClose=${onClose}>
    <p>Remove <strong>${who(member)}</strong> (${member.user.email}) from ${organization.name}? They lose access at once; their credits go back to the pool and their seat is released.</p>
  </${ActionDialog}>`;
}

function LeaveDialog({ onDone, onClose }) {
  const { organization } = useOrganization();
  async function submit() {
    await request(LEAVE_ORGANIZATION, { input: { organizationId: organization.id } });
    navigate(href.organizations());
  }
  return html`<${ActionDialog} title=${`Leave ${organization.name}`} buttons=${[{ label: 'Leave organization', danger: true }]} onSubmit=${submit} onDone=${onDone} onClose=${onClose}>
    <p>Leave ${organization.name}? You lose access to it at once; your credits go back to its pool and your seat is released.</p>
  </${ActionDialog}>`;
}

const notOwner = (member) => member.role !== 'OWNER';

/** Each action: its button text, when it is offered, and its dialog. */
export const MEMBER_ACTIONS = [
  { key: 'role', text: 'Role', offered: ({ can, member }) => can('MANAGE_MEMBERS') && notOwner(member), Dialog: RoleDialog },
  { key: 'credits', text: 'Credits', offered: ({ can }) => can('UPDATE_MEMBERS'), Dialog: CreditsDialog },
  { key: 'seat', text: 'Seat', offered: ({ can }) => can('UPDATE_MEMBERS'), Dialog: SeatDialog },
  { key: 'transfer', text: 'Make owner', offered: ({ can, isSelf }) => can('TRANSFER_OWNERSHIP') && !isSelf, Dialog: TransferDialog },
  {
    key: 'remove',
    text: 'Remove',
    offered: ({ can, member, isSelf }) => can('MANAGE_MEMBERS') && notOwner(member) && !isSelf,
    Dialog: RemoveDialog,
  },
  { key: 'leave', text: 'Leave', offered: ({ member, isSelf }) => isSelf && notOwner(member), Dialog: LeaveDialog },
];
