// The signed-in session: orgql's bearer token, and who wants to know when it
// starts or ends.
//
// The token is kept in sessionStorage, not localStorage or a cookie: it
// survives a reload of this tab but dies with the tab and is never shared
// with other tabs or windows, so a forgotten window leaves no credential
// behind for long; and unlike a cookie the browser never attaches it to a
// request by itself, so another site cannot make requests with it. Any script
// of this page could read it, which is why the page runs only orgql's own
// scripts (the server's Content-Security-Policy).

const KEY = 'orgql.token';
const listeners = new Set();

function changed(reason) {
  for (const listener of listeners) listener(reason);
}

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  start(token) {
    sessionStorage.setItem(KEY, token);
    changed(null);
  },
  /** Forgets the token; `reason` is shown on the sign-in screen (null: the user signed out). */
  end(reason = null) {
    if (sessionStorage.getItem(KEY) === null) return;
    sessionStorage.removeItem(KEY);
    changed(reason);
  },
  /** Calls `listener(reason)` whenever the session starts (reason null) or ends; returns the unsubscribe. */
  listen(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
