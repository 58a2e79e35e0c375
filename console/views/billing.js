// Billing: the credit pool and the seat inventory, with top-up and seat
// limits for those whose role manages billing.

import { html } from '../vendor/htm-preact-standalone.mjs';
import { count, formatNumber } from '../lib/format.js';
import { request } from '../lib/graphql.js';
import { useQuery } from '../lib/hooks.js';
import { useOrganization } from './context.js';
import { ActionForm, ErrorText, Field, Loading, PageHeading } from './ui.js';

export const BILLING = `query Billing($organizationId: ID!) {
  organization(id: $organizationId) {
    creditPool { available distributed total }
    seats { standard { limit assigned } pro { limit assigned } }
  }
}`;

const ADD_CREDITS = `mutation AddCredits($input: AddCreditsInput!) {
  addCredits(input: $input) { organization { creditPool { available total } } }
}`;

const SET_SEAT_LIMITS = `mutation SetSeatLimits($input: SetSeatLimitsInput!) {
  setSeatLimits(input: $input) { organization { seats { standard { limit } pro { limit } } } }
}`;

const TIERS = [
  ['standard', 'Standard'],
  ['pro', 'Pro'],
];

export function BillingPage() {
  const { organization, can, revision, refresh, notify } = useOrganization();
  const { data, error } = useQuery(BILLING, { organizationId: organization.id }, { revision });
  const billing = data?.organization;
  const done = (message) => {
    refresh(); // the pool and the limits cause no membership event
    notify(message);
  };

  async function addCredits(form) {
    const amount = Number(form.get('amount'));
    const { addCredits: payload } = await request(ADD_CREDITS, { input: { organizationId: organization.id, amount } });
    const { total, available } = payload.organization.creditPool;
    return `Added ${count(amount, 'credit')}: the pool holds ${formatNumber(total)} in all, ${formatNumber(available)} available.`;
  }

  async function setSeatLimits(form) {
    const input = { organizationId: organization.id, standard: Number(form.get('standard')), pro: Number(form.get('pro')) };
    const { setSeatLimits: payload } = await request(SET_SEAT_LIMITS, { input });
    const { standard, pro } = payload.organization.seats;
    return `Seat limits set: ${formatNumber(standard.limit)} Standard, ${formatNumber(pro.limit)} Pro.`;
  }

  return html`
    <div class="page-head"><${PageHeading} title=${`Billing · ${organization.name}`}>Billing</${PageHeading}></div>
    <${ErrorText} error=${error} />
    ${!billing && !error && html`<${Loading} what="Loading billing" />`}
    ${
      billing &&
      html`<div class="panels">
      <section class="panel" aria-labelledby="credit-pool">
        <h2 id="credit-pool">Credit pool</h2>
        <dl class="stats">
          <div><dt>Available</dt><dd>${formatNumber(billing.creditPool.available)}</dd></div>
          <div><dt>With members</dt><dd>${formatNumber(billing.creditPool.distributed)}</dd></div>
          <div><dt>Total</dt><dd>${formatNumber(billing.creditPool.total)}</dd></div>
        </dl>
        ${
          can('MANAGE_BILLING') &&
          html`<${ActionForm} buttons=${[{ label: 'Add credits' }]} onSubmit=${addCredits} onDone=${done}>
          <${Field} label="Credits to add" name="amount" type="number" min="1" step="1" inputmode="numeric" required />
        </${ActionForm}>`
        }
      </section>
      <section class="panel" aria-labelledby="seats">
        <h2 id="seats">Seats</h2>
        <dl class="stats">
          ${TIERS.map(
            ([tier, name]) => html`<div key=${tier}>
              <dt>${name}</dt>
              <dd>${formatNumber(billing.seats[tier].assigned)} <span class="of">of ${formatNumber(billing.seats[tier].limit)} assigned</span></dd>
            </div>`,
          )}
        </dl>
        ${
          can('MANAGE_BILLING') &&
          html`<${ActionForm} buttons=${[{ label: 'Save seat limits' }]} onSubmit=${setSeatLimits} onDone=${done}>
          <div class="row">
            ${TIERS.map(
              ([tier, name]) => html`<${Field}
                key=${tier}
                label=${`${name} seats`}
                name=${tier}
                type="number"
                min=${billing.seats[tier].assigned}
                step="1"
                inputmode="numeric"
                required
                defaultValue=${billing.seats[tier].limit}
              />`,
            )}
          </div>
        </${ActionForm}>`
        }
      </section>
    </div>`
    }
  `;
}
