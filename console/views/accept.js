// The invitation link's page (/invitations/accept?token=…): a preview that
// needs no session, then sign in or sign up with the invited address, and join.

import { html, useEffect, useState } from '../vendor/htm-preact-standalone.mjs';
import { formatDay, label } from '../lib/format.js';
import { request } from '../lib/graphql.js';
import { useAction, useQuery } from '../lib/hooks.js';
import { href } from '../lib/router.js';
import { session } from '../lib/session.js';
import { CredentialsForm, signOut } from './auth.js';
import { ErrorText, Loading, PageHeading } from './ui.js';

const PREVIEW = `query InvitationPreview($token: String!) {
  invitation(token: $token) { organizationName email role invitedByName expiresAt status accountExists }
}`;

const VIEWER = `query AcceptingViewer { viewer { user { email } } }`;

// Read with the new session: signUp's own answer cannot show the
// organization, as the request that signed up carried no session.
const JOINED_ORGANIZATION = `query JoinedOrganization($memberId: ID!) {
  node(id: $memberId) { ... on Member { organization { slug } } }
}`;

const ACCEPT_INVITATION = `mutation AcceptInvitation($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) { member { organization { slug } } }
}`;

const ENDED = {
  ACCEPTED: 'This invitation has already been accepted.',
  REVOKED: 'This invitation was withdrawn.',
  EXPIRED: 'This invitation has expired. Ask whoever invited you to send it again.',
};

/** Into the console, on the organization just joined. */
const enter = (slug) => location.assign(`/console${href.organization(slug)}`);

export function AcceptPage() {
  const token = new URLSearchParams(location.search).get('token');
  // The preview counts as an attempt at a token (orgql limits them per address): asked once.
  const { data, error } = useQuery(PREVIEW, { token }, { skip: !token });
  const invitation = data?.invitation;
  return html`<main id="main" class="centered">
    <div class="card">
      <p class="brand">orgql <span>members console</span></p>
      ${!token && html`<${PageHeading}>No invitation here</${PageHeading}><p>This link has no invitation in it. Open the link from the invitation email again.</p>`}
      ${token && !data && !error && html`<${Loading} what="Looking up the invitation" />`}
      ${error && html`<${PageHeading}>Invitation</${PageHeading}><${ErrorText} error=${error} />`}
      ${
        data &&
        !invitation &&
        html`<${PageHeading}>This link does not work</${PageHeading}>
        <p>The invitation does not exist, or a newer one replaced it. Ask whoever invited you to send it again.</p>`
      }
      ${invitation && html`<${Invitation} token=${token} invitation=${invitation} />`}
    </div>
  </main>`;
}

function Invitation({ token, invitation }) {
  const { organizationName, email, role, invitedByName, expiresAt, status } = invitation;
  return html`
    <${PageHeading} title=${`Join ${organizationName}`}>Join ${organizationName}</${PageHeading}>
    <p class="lead">
      ${invitedByName ? `${invitedByName} invited you` : 'You are invited'} to join <strong>${organizationName}</strong> as <strong>${label(role)}</strong>.
    </p>
    <p class="hint">The invitation is for ${email}${status === 'PENDING' ? ` and works until ${formatDay(expiresAt)}` : ''}.</p>
    ${
      status === 'PENDING'
        ? html`<${Join} token=${token} invitation=${invitation} />`
        : html`<p class="notice">${ENDED[status]}</p>
      <p><a href="/console">Open the console</a></p>`
    }
  `;
}

/** Join as whoever this tab is signed in as, or sign in or sign up first. */
function Join({ token, invitation }) {
  const [viewer, setViewer] = useState(undefined); // undefined: not known yet; null: signed out
  const action = useAction();
  useEffect(() => {
    if (session.token) {
      request(VIEWER).then(
        (data) => setViewer(data.viewer?.user ?? null),
        () => setViewer(null),
      );
    } else {
      setViewer(null);
    }
  }, []);

  const join = () =>
    action.run(async () => {
      const { acceptInvitation } = await request(ACCEPT_INVITATION, { input: { token } });
      enter(acceptInvitation.member.organization.slug);
    });

  if (viewer === undefined) return html`<${Loading} />`;
  if (viewer) {
    const same = viewer.email.toLowerCase() === invitation.email.toLowerCase();
    const leave = () => signOut().then(() => setViewer(null));
    return html`<div class="stack">
      ${
        same
          ? html`<p>You are signed in as ${viewer.email}.</p>
            <button type="button" class="primary" disabled=${action.busy} onClick=${join}>Join ${invitation.organizationName}</button>`
          : html`<p class="notice">You are signed in as ${viewer.email}, but this invitation is for ${invitation.email}. Sign out, then sign in with the invited address.</p>`
      }
      <${ErrorText} error=${action.error} />
      <button type="button" class="link" onClick=${leave}>Sign out</button>
    </div>`;
  }
  // orgql says whether the invited address has an account: sign in and
  // accept, or create the account and accept in the same step.
  if (invitation.accountExists) {
    const signedIn = ({ token: bearer }) => {
      session.start(bearer);
      setViewer({ email: invitation.email }); // a refusal to join shows there
      join();
    };
    return html`<p>Sign in to accept.</p>
      <${CredentialsForm} email=${invitation.email} submitLabel="Sign in and join" onDone=${signedIn} />`;
  }
  const signedUp = async ({ token: bearer, member }) => {
    session.start(bearer);
    const { node } = await request(JOINED_ORGANIZATION, { memberId: member.id });
    enter(node.organization.slug);
  };
  return html`<p>Create your account to accept.</p>
    <${CredentialsForm} signUp email=${invitation.email} invitationToken=${token} submitLabel="Create account and join" onDone=${signedUp} />`;
}
