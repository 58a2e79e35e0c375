// One open organization: its tabs, the viewer's standing in it, and the live
// events that keep both current.

import { html, useCallback, useEffect, useMemo, useRef, useState } from '../vendor/htm-preact-standalone.mjs';
import { label } from '../lib/format.js';
import { useQuery } from '../lib/hooks.js';
import { follow, ORGANIZATION_EVENTS } from '../lib/live.js';
import { href } from '../lib/router.js';
import { AuditPage } from './audit.js';
import { BillingPage } from './billing.js';
import { Organization, useSession } from './context.js';
import { InvitationsPage } from './invitations.js';
import { MembersPage } from './members.js';
import { Badge, ErrorText, Loading, PageHeading } from './ui.js';

const ORGANIZATION = `query Organization($slug: String!) {
  organization(slug: $slug) { id name slug viewerRole viewerPermissions }
}`;

const TABS = [
  { tab: 'members', title: 'Members', needs: 'VIEW_MEMBERS', Page: MembersPage },
  { tab: 'invitations', title: 'Invitations', needs: 'MANAGE_MEMBERS', Page: InvitationsPage },
  { tab: 'billing', title: 'Billing', needs: 'VIEW_BILLING', Page: BillingPage },
  { tab: 'audit', title: 'Audit log', needs: 'MANAGE_MEMBERS', Page: AuditPage },
];

// Events come in bursts (a bulk of joins, a removal's credits and seat):
// the screen refetches once per burst.
const REFRESH_DELAY_MS = 50;
const ROLE_EVENTS = new Set(['ROLE_CHANGED', 'OWNERSHIP_TRANSFERRED']);

export function OrganizationScreen({ slug, tab }) {
  const { socket, viewerEvents } = useSession();
  const [revision, setRevision] = useState(0);
  const refresh = useCallback(() => setRevision((r) => r + 1), []);
  const timer = useRef();
  const refreshSoon = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(refresh, REFRESH_DELAY_MS);
  }, [refresh]);
  const [notice, notify] = useState(null);

  const { data, error } = useQuery(ORGANIZATION, { slug }, { revision });
  // The fetched organization, with the viewer's role and permissions as the
  // latest event about the viewer left them.
  const [organization, setOrganization] = useState(null);
  const [removed, setRemoved] = useState(false);
  useEffect(() => {
    if (data?.organization) setOrganization(data.organization);
  }, [data]);
  const organizationId = organization?.id;

  useEffect(() => {
    if (!organizationId) return undefined;
    return follow(socket, {
      query: ORGANIZATION_EVENTS,
      variables: { organizationId },
      onEvent: refreshSoon,
      onResync: refreshSoon,
    });
  }, [socket, organizationId, refreshSoon]);

  // What the viewer may do changes on screen the moment their role does.
  useEffect(
    () =>
      viewerEvents.listen((event) => {
        if (event && event.organizationId !== organizationId) return;
        if (event) {
          setOrganization((o) => ({ ...o, viewerRole: event.role, viewerPermissions: event.permissions }));
          if (event.kind === 'REMOVED') setRemoved(true);
          if (ROLE_EVENTS.has(event.kind)) {
            const by = event.actor ? ` (changed by ${event.actor.name})` : '';
            notify(`Your role is now ${label(event.role)}${by}.`);
          }
        }
        refreshSoon(); // null: the stream restarted without a cursor
      }),
    [viewerEvents, organizationId, refreshSoon],
  );
  useEffect(() => () => clearTimeout(timer.current), []);
  useEffect(() => notify(null), [tab]); // a notice belongs to the tab it was given on

  const context = useMemo(
    () =>
      organization && {
        organization,
        can: (permission) => organization.viewerPermissions.includes(permission),
        revision,
        refresh,
        notify,
      },
    [organization, revision, refresh],
  );

  if (removed || (data && !data.organization)) {
    return html`<main id="main" class="page narrow">
      <${PageHeading} title="No access">${removed ? `You are no longer a member of ${organization?.name}` : 'Organization not found'}</${PageHeading}>
      <p>${removed ? 'Your access to it has ended, so its pages are closed to you.' : `There is no organization at “${slug}”, or you are not one of its members.`}</p>
      <p><a href=${href.organizations()}>Your organizations</a></p>
    </main>`;
  }
  if (!context) {
    return html`<main id="main" class="page">${error ? html`<${ErrorText} error=${error} />` : html`<${Loading} />`}</main>`;
  }

  const tabs = TABS.filter(({ needs }) => context.can(needs));
  const current = TABS.find((t) => t.tab === tab) ?? TABS[0];
  return html`<${Organization.Provider} value=${context}>
    <div class="org-bar">
      <div class="org-title">
        <span class="org-name">${organization.name}</span>
        <span class="you">You are <${Badge} value=${organization.viewerRole} /></span>
      </div>
      <nav class="tabs" aria-label="Organization">
        ${tabs.map(
          (t) =>
            html`<a key=${t.tab} href=${href.organization(slug, t.tab)} aria-current=${t === current ? 'page' : undefined}>${t.title}</a>`,
        )}
      </nav>
    </div>
    <main id="main" class="page">
      <div class="notice-area" role="status">
        ${
          notice &&
          html`<p class="notice">
          ${notice}
          <button type="button" class="icon" aria-label="Dismiss" onClick=${() => notify(null)}>×</button>
        </p>`
        }
      </div>
      ${
        context.can(current.needs)
          ? html`<${current.Page} key=${tab} />`
          : html`<${PageHeading} title=${current.title}>${current.title}</${PageHeading}>
            <p>Your role does not open this page. <a href=${href.organization(slug)}>Back to Members</a></p>`
      }
    </main>
  </${Organization.Provider}>`;
}
