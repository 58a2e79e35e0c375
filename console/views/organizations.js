// Choosing an organization (the viewer's memberships) or creating one.

import { html, useEffect, useState } from '../vendor/htm-preact-standalone.mjs';
import { request } from '../lib/graphql.js';
import { usePages, useQuery } from '../lib/hooks.js';
import { href, navigate } from '../lib/router.js';
import { useSession } from './context.js';
import { ActionForm, Badge, ErrorText, Field, Loading, PageHeading, Pager } from './ui.js';

const PAGE_SIZE = 20;

const MEMBERSHIPS = `query Memberships($first: Int!, $after: String) {
  viewer {
    memberships(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id role organization { id name slug } }
    }
  }
}`;

const CREATE_ORGANIZATION = `mutation CreateOrganization($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { slug } }
}`;

export function OrganizationsPage() {
  const { viewerEvents } = useSession();
  const pages = usePages();
  // Joining, leaving or a role change elsewhere shows here at once.
  const [revision, setRevision] = useState(0);
  useEffect(() => viewerEvents.listen(() => setRevision((r) => r + 1)), [viewerEvents]);
  const { data, error } = useQuery(MEMBERSHIPS, { first: PAGE_SIZE, after: pages.after }, { revision });
  const memberships = data?.viewer?.memberships;

  return html`<main id="main" class="page narrow">
    <${PageHeading} title="Organizations">Your organizations</${PageHeading}>
    <${ErrorText} error=${error} />
    ${!memberships && !error && html`<${Loading} />`}
    ${
      memberships &&
      (memberships.totalCount === 0
        ? html`<p class="empty">You are not a member of any organization yet. Create one below, or open the link of an invitation you received.</p>`
        : html`<ul class="organizations">
          ${memberships.nodes.map(
            ({ id, role, organization }) => html`<li key=${id}>
              <a href=${href.organization(organization.slug)}>
                <span class="org-name">${organization.name}</span>
                <${Badge} value=${role} />
              </a>
            </li>`,
          )}
        </ul>
        <${Pager} pages=${pages} pageInfo=${memberships.pageInfo} what="Organization" />`)
    }
    <${CreateOrganization} />
  </main>`;
}

function CreateOrganization() {
  async function submit(form) {
    const { name, slug } = Object.fromEntries(form);
    const data = await request(CREATE_ORGANIZATION, { input: slug ? { name, slug } : { name } });
    return data.createOrganization.organization.slug;
  }
  const open = (slug) => navigate(href.organization(slug));
  return html`<section class="panel" aria-labelledby="create-organization">
    <h2 id="create-organization">Create an organization</h2>
    <p>You become its owner.</p>
    <${ActionForm} buttons=${[{ label: 'Create organization' }]} onSubmit=${submit} onDone=${open}>
      <${Field} label="Name" name="name" required autocomplete="organization" />
      <${Field} label="Address (optional)" name="slug" pattern="[a-z0-9-]+" hint="Lower-case letters, digits and hyphens, as in /org/acme-corp. Made from the name when left empty." />
    </${ActionForm}>
  </section>`;
}
