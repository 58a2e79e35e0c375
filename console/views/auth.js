// Signing in and signing up with a password (also on the invitation page,
// where the address is the invited one and sign-up joins in the same step).

import { html, useState } from '../vendor/htm-preact-standalone.mjs';
import { request } from '../lib/graphql.js';
import { session } from '../lib/session.js';
import { ActionForm, Field, PageHeading } from './ui.js';

const LOG_IN = `mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { token }
}`;

const LOG_OUT = `mutation LogOut { logOut }`;

const SIGN_UP = `mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token member { id } }
}`;

/**
 * The sign-in (`signUp` false) or sign-up form. `email` fixes the address
 * (an invitation's); `invitationToken` makes sign-up accept it.
 * `onDone(payload)` gets logIn's or signUp's payload.
 */
export function CredentialsForm({ signUp = false, email, invitationToken, submitLabel, onDone }) {
  async function submit(form) {
    const input = Object.fromEntries(form);
    if (!signUp) return (await request(LOG_IN, { input })).logIn;
    return (await request(SIGN_UP, { input: { ...input, invitationToken } })).signUp;
  }
  return html`<${ActionForm} buttons=${[{ label: submitLabel }]} onSubmit=${submit} onDone=${onDone}>
    ${signUp && html`<${Field} label="Name" name="name" autocomplete="name" required />`}
    <${Field} label="Email" name="email" type="email" autocomplete="username" required defaultValue=${email} readOnly=${Boolean(email)} />
    <${Field}
      label="Password"
      name="password"
      type="password"
      required
      minLength=${signUp ? 8 : undefined}
      autocomplete=${signUp ? 'new-password' : 'current-password'}
      hint=${signUp ? 'At least 8 characters.' : undefined}
    />
  </${ActionForm}>`;
}

/** Ends the session: orgql forgets the token (logOut), then this tab does. */
export async function signOut() {
  await request(LOG_OUT).catch(() => {}); // signed out here whatever the server said
  session.end();
}

/** The signed-out screen: sign in, or switch to creating an account. */
export function AuthScreen({ reason }) {
  const [signUp, setSignUp] = useState(false);
  const start = ({ token }) => session.start(token);
  return html`<main id="main" class="centered">
    <div class="card">
      <p class="brand">orgql <span>members console</span></p>
      <${PageHeading}>${signUp ? 'Create your account' : 'Sign in'}</${PageHeading}>
      ${reason && html`<p class="notice">${reason}</p>`}
      <${CredentialsForm} key=${signUp} signUp=${signUp} submitLabel=${signUp ? 'Create account' : 'Sign in'} onDone=${start} />
      <p class="switch">
        ${signUp ? 'Already have an account? ' : 'New here? '}
        <button type="button" class="link" onClick=${() => setSignUp(!signUp)}>${signUp ? 'Sign in' : 'Create an account'}</button>
      </p>
    </div>
  </main>`;
}
