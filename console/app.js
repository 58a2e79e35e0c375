// The orgql members console: a client of orgql's public GraphQL API and
// nothing else (POST /graphql, subscriptions on /graphql/ws).

import { html, render, useEffect, useMemo, useState } from './vendor/htm-preact-standalone.mjs';
import { useQuery } from './lib/hooks.js';
import { channel, follow, VIEWER_EVENTS } from './lib/live.js';
import { ACCEPT_PATH, href, useRoute } from './lib/router.js';
import { session } from './lib/session.js';
import { createSocket } from './lib/socket.js';
import { AcceptPage } from './views/accept.js';
import { AuthScreen, signOut } from './views/auth.js';
import { Session } from './views/context.js';
import { OrganizationScreen } from './views/organization.js';
import { OrganizationsPage } from './views/organizations.js';
import { ErrorText, Loading } from './views/ui.js';

const VIEWER = `query Viewer { viewer { user { id name email } } }`;
const SOCKET_URL = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql/ws`;
const SESSION_ENDED = 'Your session has ended. Please sign in again.';
const LIVE_STATUS = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', closed: 'Offline' };

function App() {
  const [token, setToken] = useState(session.token);
  const [reason, setReason] = useState(null);
  useEffect(
    () =>
      session.listen((why) => {
        setToken(session.token);
        setReason(why);
      }),
    [],
  );
  if (location.pathname === ACCEPT_PATH) return html`<${AcceptPage} />`;
  if (!token) return html`<${AuthScreen} reason=${reason} />`;
  return html`<${SignedIn} key=${token} token=${token} />`;
}

/** A session: who is signed in, one socket for its live events, and the screen the route names. */
function SignedIn({ token }) {
  const route = useRoute();
  const { data, error } = useQuery(VIEWER, {});
  const user = data?.viewer?.user;
  const [status, setStatus] = useState('connecting');
  const [socket, setSocket] = useState(null);
  const viewerEvents = useMemo(channel, []);

  useEffect(() => {
    // A stored token the server no longer knows answers viewer: null.
    if (data && !data.viewer) session.end(SESSION_ENDED);
  }, [data]);

  useEffect(() => {
    const opened = createSocket({ url: SOCKET_URL, token, onStatus: setStatus, onForbidden: () => session.end(SESSION_ENDED) });
    setSocket(opened);
    return () => opened.close();
  }, [token]);

  useEffect(() => {
    if (!socket) return undefined;
    // null tells the listeners to refetch: the stream could not say what they missed.
    return follow(socket, { query: VIEWER_EVENTS, onEvent: viewerEvents.emit, onResync: () => viewerEvents.emit(null) });
  }, [socket, viewerEvents]);

  const context = useMemo(() => user && socket && { user, socket, viewerEvents }, [user, socket, viewerEvents]);
  if (!context) return html`<main id="main" class="page">${error ? html`<${ErrorText} error=${error} />` : html`<${Loading} />`}</main>`;

  async function endSession() {
    socket.close(); // first, so that logOut closing it is not taken for an ended session
    await signOut();
  }

  return html`<${Session.Provider} value=${context}>
    <header class="topbar">
      <a class="brand" href=${href.organizations()}>orgql <span>members console</span></a>
      <span class=${`live live-${status}`} role="status">${LIVE_STATUS[status]}</span>
      <span class="me" title=${user.email}>${user.name}</span>
      <button type="button" class="small" onClick=${endSession}>Sign out</button>
    </header>
    ${
      route.name === 'organization'
        ? html`<${OrganizationScreen} key=${route.slug} slug=${route.slug} tab=${route.tab} />`
        : html`<${OrganizationsPage} />`
    }
  </${Session.Provider}>`;
}

render(html`<${App} />`, document.getElementById('app'));
