// Membership events, followed the way the contract allows without losing
// any: every event carries a cursor, and a subscription given `after: cursor`
// first replays what committed since. So each stream keeps its last cursor
// and resumes from it whenever the socket has to reconnect.

const EVENT_FIELDS = `
  kind organizationId userId role previousRole permissions at cursor
  actor { name email }
`;

export const VIEWER_EVENTS = `subscription ViewerEvents($after: String) {
  viewerMembershipChanged(after: $after) { ${EVENT_FIELDS} }
}`;

export const ORGANIZATION_EVENTS = `subscription OrganizationEvents($organizationId: ID!, $after: String) {
  organizationMembershipChanged(organizationId: $organizationId, after: $after) { ${EVENT_FIELDS} }
}`;

/**
 * Follows one membership-event subscription on `socket`. `onEvent(event)`
 * gets each event once, in commit order. `onResync()` is called whenever the
 * stream starts without a cursor (the first time, or after the server
 * forgot the cursor): it cannot tell what committed before, so what the
 * screen shows must be fetched again. A stream that the server ends or
 * refuses otherwise stays ended: the organization's ends when the viewer
 * loses access to it, which the viewer's own stream reports (REMOVED).
 * Returns a function that stops following.
 */
export function follow(socket, { query, variables = {}, onEvent, onResync }) {
  let cursor = null;
  let stop;
  let fellBehind = false;

  function start() {
    stop = socket.subscribe(
      () => {
        if (cursor === null) onResync();
        return { query, variables: { ...variables, after: cursor } };
      },
      {
        next({ data, errors }) {
          const event = data && Object.values(data)[0];
          if (event) {
            cursor = event.cursor;
            onEvent(event);
          } else if (errors?.some((e) => e.extensions?.code === 'LIMIT_EXCEEDED')) {
            // A subscriber too far behind is ended; it resumes from its cursor.
            fellBehind = true;
          }
        },
        error(errors) {
          if (errors.some((e) => e.extensions?.reason === 'CURSOR_EXPIRED')) {
            cursor = null; // the next start refetches (onResync) and goes on live
            start();
          }
        },
        complete() {
          if (fellBehind) {
            fellBehind = false;
            start();
          }
        },
      },
    );
  }

  start();
  return () => stop();
}

/** A list of listeners to broadcast to: `listen(fn)` returns its unsubscribe. */
export function channel() {
  const listeners = new Set();
  return {
    emit: (value) => listeners.forEach((listener) => listener(value)),
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
