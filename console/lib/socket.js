// A graphql-transport-ws client (the protocol of the graphql-ws library):
// one WebSocket per session carries all of its subscriptions, and comes back
// by itself after a network failure or a server restart. On every new socket
// each subscription is sent again with payload() asked afresh, so a caller
// can resume where it was (see live.js).

const PROTOCOL = 'graphql-transport-ws';
// orgql closes with 4403 when the token does not sign in or its session
// ended (logOut, expiry): reconnecting cannot help.
const FORBIDDEN = 4403;
const MAX_DELAY_MS = 30_000;

/**
 * @param {{ url: string, token: string, onStatus: (status: 'connecting'|'live'|'reconnecting'|'closed') => void, onForbidden: () => void }} options
 */
export function createSocket({ url, token, onStatus, onForbidden }) {
  const subscriptions = new Map(); // id -> { payload: () => object, sink }
  let socket;
  let lastId = 0;
  let failures = 0;
  let retry;
  let acknowledged = false;
  let closed = false;

  const send = (message) => socket.send(JSON.stringify(message));
  const start = (id, { payload }) => send({ id, type: 'subscribe', payload: payload() });

  function connect() {
    onStatus(failures === 0 ? 'connecting' : 'reconnecting');
    socket = new WebSocket(url, PROTOCOL);
    socket.onopen = () => send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    socket.onmessage = ({ data }) => receive(JSON.parse(data));
    socket.onclose = ({ code }) => {
      acknowledged = false;
      if (closed) return;
      if (code === FORBIDDEN) {
        closed = true;
        onStatus('closed');
        onForbidden();
        return;
      }
      onStatus('reconnecting');
      // 1 s, 2 s, 4 s … 30 s, each shortened at random so that the clients
      // of a restarted server do not all come back at the same instant.
      const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** failures) * (0.5 + Math.random() / 2);
      failures += 1;
      retry = setTimeout(connect, delay);
    };
  }

  function receive(message) {
    const subscription = subscriptions.get(message.id);
    switch (message.type) {
      case 'connection_ack':
        acknowledged = true;
        failures = 0;
        onStatus('live');
        for (const [id, entry] of subscriptions) start(id, entry);
        break;
      case 'ping':
        send({ type: 'pong' });
        break;
      case 'next':
        subscription?.sink.next(message.payload);
        break;
      case 'error':
        subscriptions.delete(message.id);
        subscription?.sink.error(message.payload);
        break;
      case 'complete':
        subscriptions.delete(message.id);
        subscription?.sink.complete();
        break;
    }
  }

  // A laptop waking up or a phone back in coverage need not wait out the backoff.
  const reconnectNow = () => {
    if (retry && !closed && socket.readyState === WebSocket.CLOSED) {
      clearTimeout(retry);
      retry = undefined;
      connect();
    }
  };
  window.addEventListener('online', reconnectNow);

  connect();

  return {
    /**
     * Starts a subscription; `payload()` gives { query, variables } each time
     * it is sent, `sink` gets next(result), error(errors) and complete().
     * Returns a function that stops it.
     */
    subscribe(payload, sink) {
      const id = String(++lastId);
      const entry = { payload, sink };
      subscriptions.set(id, entry);
      if (acknowledged) start(id, entry);
      return () => {
        if (subscriptions.delete(id) && acknowledged) send({ id, type: 'complete' });
      };
    },
    close() {
      closed = true;
      acknowledged = false; // the subscriptions stopping now have nothing to tell the server
      clearTimeout(retry);
      window.removeEventListener('online', reconnectNow);
      socket.close(1000);
      onStatus('closed');
    },
  };
}
