// GraphQL over WebSocket at /graphql/ws: the `graphql-ws` client library
// against the server (graphql-transport-ws), and raw `ws` sockets for the
// protocol's message sequences and close codes.
//
// Run by run.sh, which starts the server with --ws-init-timeout 1s.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { ok, ownerAndMember, signUp, uniqueEmail, updateMemberRole, WS_URL } from './lib/orgql.mjs';
import { RawSocket } from './lib/rawws.mjs';

const INIT_TIMEOUT_MS = Number(process.env.ORGQL_WS_INIT_TIMEOUT_MS ?? 1000);
const TEST = { timeout: 30_000 };

const VIEWER_EVENTS = `subscription ViewerEvents {
  viewerMembershipChanged {
    kind organizationId userId role previousRole permissions
    member { id role }
    actor { id }
  }
}`;

let setup; // { owner, member, organizationId, memberId }
let currentRole = 'MEMBER';
const sockets = [];

/** Changes the member's role to one it does not have; returns { from, to }. */
async function changeRole() {
  const cycle = { MEMBER: 'MANAGER', MANAGER: 'ADMIN', ADMIN: 'MEMBER' };
  const from = currentRole;
  const to = cycle[from];
  const member = await updateMemberRole(setup.owner.token, setup.memberId, to);
  assert.equal(member.role, to, 'updateMemberRole returned the new role');
  currentRole = to;
  return { from, to };
}

function assertRoleEvent(event, { from, to }) {
  assert.equal(event.kind, 'ROLE_CHANGED');
  assert.equal(event.organizationId, setup.organizationId);
  assert.equal(event.userId, setup.member.userId);
  assert.equal(event.role, to);
  assert.equal(event.previousRole, from);
  assert.equal(event.member?.id, setup.memberId);
  assert.equal(event.member?.role, to);
  assert.equal(event.actor?.id, setup.owner.userId);
  assert.ok(Array.isArray(event.permissions) && event.permissions.includes('VIEW_MEMBERS'), `permissions: ${event.permissions}`);
}

async function raw(options) {
  const socket = await RawSocket.open(options);
  sockets.push(socket);
  return socket;
}

/** A raw graphql-transport-ws socket past connection_init/connection_ack. */
async function initialised(token = setup.member.token) {
  const socket = await raw();
  socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  assert.deepEqual(await socket.nextNonKeepAlive(), { type: 'connection_ack' });
  return socket;
}

/**
 * The server subscribes to its event bus when the subscription's task first
 * runs, just after it read `subscribe`: a ping/pong round trip and a short
 * pause make sure it listens before the test changes a role.
 */
async function settle(socket) {
  socket.send({ type: 'ping' });
  assert.deepEqual(await socket.nextNonKeepAlive(), { type: 'pong' });
  await sleep(300);
}

before(async () => {
  setup = await ownerAndMember('ws');
});

after(() => {
  for (const socket of sockets) socket.close();
});

describe('graphql-ws client library (graphql-transport-ws)', () => {
  test('connection_init is acknowledged and a role change made over HTTP arrives as `next`', TEST, async () => {
    let acknowledged = false;
    const closes = [];
    const client = createClient({
      url: WS_URL,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${setup.member.token}` },
      lazy: false,
      retryAttempts: 0,
      on: {
        connected: () => {
          acknowledged = true;
        },
        closed: (event) => closes.push(event?.code),
      },
    });
    try {
      const events = [];
      let completed = false;
      let failure;
      const unsubscribe = client.subscribe(
        { query: VIEWER_EVENTS, operationName: 'ViewerEvents' },
        {
          next: (result) => events.push(result),
          error: (error) => {
            failure = error;
          },
          complete: () => {
            completed = true;
          },
        },
      );
      await waitFor(() => acknowledged, 5000, 'connection_ack');
      await sleep(500); // the server listens once its subscription task runs
      const change = await changeRole();
      await waitFor(() => events.length > 0 || failure, 5000, 'a `next` message');
      assert.equal(failure, undefined, `subscription failed: ${JSON.stringify(failure)}`);
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0].errors, undefined, JSON.stringify(events[0]));
      assertRoleEvent(events[0].data.viewerMembershipChanged, change);
      unsubscribe(); // sends `complete`; the library then completes the sink
      await waitFor(() => completed, 2000, 'the sink to complete after unsubscribe');
    } finally {
      await client.dispose();
    }
    assert.deepEqual(closes.filter((c) => c !== 1000), [], `unexpected close codes: ${closes}`);
  });

  test('an invalid subscription document is reported through the error sink', TEST, async () => {
    const client = createClient({
      url: WS_URL,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${setup.member.token}` },
      retryAttempts: 0,
    });
    try {
      const error = await new Promise((resolve, reject) => {
        client.subscribe(
          { query: 'subscription { noSuchField }' },
          {
            next: (result) => reject(new Error(`expected an error, got next ${JSON.stringify(result)}`)),
            error: resolve,
            complete: () => reject(new Error('expected an error, got complete')),
          },
        );
      });
      assert.ok(Array.isArray(error), `graphql-ws hands an \`error\` message's payload (an array of errors) to the sink; got ${describeError(error)}`);
      assert.match(error[0].message, /noSuchField/);
    } finally {
      await client.dispose();
    }
  });

  test('a bad token is refused: the client sees close code 4403', TEST, async () => {
    const client = createClient({
      url: WS_URL,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: 'Bearer not-a-real-token' },
      retryAttempts: 0,
    });
    try {
      const error = await new Promise((resolve, reject) => {
        client.subscribe(
          { query: VIEWER_EVENTS },
          { next: () => reject(new Error('unexpected next')), error: resolve, complete: () => reject(new Error('unexpected complete')) },
        );
      });
      assert.equal(error?.code, 4403, `close event: ${describeError(error)}`);
    } finally {
      await client.dispose();
    }
  });
});

describe('raw graphql-transport-ws messages', () => {
  test('the server selects graphql-transport-ws and acknowledges connection_init {authorization}', TEST, async () => {
    const socket = await raw();
    assert.equal(socket.protocol, 'graphql-transport-ws');
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${setup.member.token}` } });
    assert.deepEqual(await socket.nextNonKeepAlive(), { type: 'connection_ack' });
  });

  test('connection_init {Authorization} (capitalised, as GraphiQL sends its headers) is accepted', TEST, async () => {
    const socket = await raw();
    socket.send({ type: 'connection_init', payload: { Authorization: `Bearer ${setup.member.token}` } });
    assert.deepEqual(await socket.nextNonKeepAlive(), { type: 'connection_ack' });
  });

  test('the upgrade request\'s Authorization header authenticates an empty connection_init', TEST, async () => {
    const socket = await raw({ headers: { authorization: `Bearer ${setup.member.token}` } });
    socket.send({ type: 'connection_init' });
    assert.deepEqual(await socket.nextNonKeepAlive(), { type: 'connection_ack' });
  });

  test('ping is answered with pong (before and after init)', TEST, async () => {
    const socket = await raw();
    socket.send({ type: 'ping' });
    assert.deepEqual(await socket.next(), { type: 'pong' });
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${setup.member.token}` } });
    assert.deepEqual(await socket.nextNonKeepAlive(), { type: 'connection_ack' });
    socket.send({ type: 'ping', payload: { n: 1 } });
    assert.equal((await socket.nextNonKeepAlive()).type, 'pong');
  });

  test('subscribe, next on a role change, complete stops it, and the id can be used again', TEST, async () => {
    const socket = await initialised();
    socket.send({ id: 's1', type: 'subscribe', payload: { query: VIEWER_EVENTS } });
    await settle(socket);
    const first = await changeRole();
    const message = await socket.nextNonKeepAlive();
    assert.equal(message.type, 'next', JSON.stringify(message));
    assert.equal(message.id, 's1');
    assert.equal(message.payload.errors, undefined, JSON.stringify(message.payload));
    assertRoleEvent(message.payload.data.viewerMembershipChanged, first);

    socket.send({ id: 's1', type: 'complete' });
    await settle(socket);
    await changeRole();
    const stray = await socket.silence(1000);
    assert.equal(stray, undefined, `after complete, the server still sent ${JSON.stringify(stray)}`);

    // A completed id is free again: no 4409.
    socket.send({ id: 's1', type: 'subscribe', payload: { query: VIEWER_EVENTS } });
    await settle(socket);
    const third = await changeRole();
    const again = await socket.nextNonKeepAlive();
    assert.equal(again.type, 'next', JSON.stringify(again));
    assert.equal(again.id, 's1');
    assertRoleEvent(again.payload.data.viewerMembershipChanged, third);
  });

  test('an invalid query gets an `error` message for its id and the connection stays open', TEST, async () => {
    const socket = await initialised();
    socket.send({ id: 'bad', type: 'subscribe', payload: { query: 'subscription { noSuchField }' } });
    const message = await socket.nextNonKeepAlive();
    assert.equal(message.type, 'error', JSON.stringify(message));
    assert.equal(message.id, 'bad');
    assert.ok(Array.isArray(message.payload) && message.payload.length > 0, JSON.stringify(message));
    assert.match(message.payload[0].message, /noSuchField/);
    socket.send({ id: 'syntax', type: 'subscribe', payload: { query: 'subscription {' } });
    const syntax = await socket.nextNonKeepAlive();
    assert.equal(syntax.type, 'error', JSON.stringify(syntax));
    assert.equal(syntax.id, 'syntax');
    socket.send({ type: 'ping' });
    assert.deepEqual(await socket.nextNonKeepAlive(), { type: 'pong' });
    // An error ends the operation: its id is free again.
    socket.send({ id: 'bad', type: 'subscribe', payload: { query: VIEWER_EVENTS } });
    await settle(socket);
    assert.equal(socket.closeInfo, undefined);
  });

  test('4400: a message of unknown type closes the connection', TEST, async () => {
    const socket = await initialised();
    socket.send({ type: 'no-such-type' });
    assert.equal((await socket.waitClose()).code, 4400);
  });

  test('4400: a message that is not JSON closes the connection', TEST, async () => {
    const socket = await raw();
    socket.send('this is not json');
    assert.equal((await socket.waitClose()).code, 4400);
  });

  test('4400: subscribe without an id closes the connection', TEST, async () => {
    const socket = await initialised();
    socket.send({ type: 'subscribe', payload: { query: VIEWER_EVENTS } });
    assert.equal((await socket.waitClose()).code, 4400);
  });

  test('4400: a binary frame closes the connection', TEST, async () => {
    const socket = await raw();
    socket.ws.send(Buffer.from(JSON.stringify({ type: 'connection_init' })), { binary: true });
    assert.equal((await socket.waitClose()).code, 4400);
  });

  test('4401: subscribe before connection_init', TEST, async () => {
    const socket = await raw();
    socket.send({ id: '1', type: 'subscribe', payload: { query: VIEWER_EVENTS } });
    assert.equal((await socket.waitClose()).code, 4401);
  });

  test('4403: connection_init with a token that is no session', TEST, async () => {
    const socket = await raw();
    socket.send({ type: 'connection_init', payload: { authorization: 'Bearer not-a-real-token' } });
    const closed = await socket.waitClose();
    assert.equal(closed.code, 4403);
    assert.deepEqual(socket.queue, [], 'no connection_ack before the close');
  });

  test('4403: connection_init without any credentials', TEST, async () => {
    const socket = await raw();
    socket.send({ type: 'connection_init', payload: {} });
    assert.equal((await socket.waitClose()).code, 4403);
  });

  test(`4408: no connection_init within --ws-init-timeout (${INIT_TIMEOUT_MS} ms)`, TEST, async () => {
    const socket = await raw();
    const closed = await socket.waitClose(INIT_TIMEOUT_MS + 5000);
    assert.equal(closed.code, 4408);
    assert.ok(closed.afterMs >= INIT_TIMEOUT_MS - 200, `closed after ${closed.afterMs} ms, before the timeout`);
    assert.ok(closed.afterMs <= INIT_TIMEOUT_MS + 3000, `closed after ${closed.afterMs} ms`);
  });

  test('4409: a second subscribe with an id in use', TEST, async () => {
    const socket = await initialised();
    socket.send({ id: 'dup', type: 'subscribe', payload: { query: VIEWER_EVENTS } });
    await settle(socket);
    socket.send({ id: 'dup', type: 'subscribe', payload: { query: VIEWER_EVENTS } });
    assert.equal((await socket.waitClose()).code, 4409);
  });

  test('4429: a second connection_init', TEST, async () => {
    const socket = await initialised();
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${setup.member.token}` } });
    assert.equal((await socket.waitClose()).code, 4429);
  });

  test('4403: logging out over HTTP closes the session\'s socket', TEST, async () => {
    const user = await signUp(uniqueEmail('ws-logout'));
    const socket = await initialised(user.token);
    socket.send({ id: 'v', type: 'subscribe', payload: { query: VIEWER_EVENTS } });
    await settle(socket);
    const data = await ok('mutation { logOut }', {}, user.token);
    assert.equal(data.logOut, true);
    assert.equal((await socket.waitClose()).code, 4403);
  });
});

describe('legacy graphql-ws subprotocol (subscriptions-transport-ws)', () => {
  test('connection_init/ack, start gets `data`, stop ends it, connection_terminate closes', TEST, async () => {
    const socket = await raw({ protocol: 'graphql-ws' });
    assert.equal(socket.protocol, 'graphql-ws');
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${setup.member.token}` } });
    assert.deepEqual(await socket.nextNonKeepAlive(), { type: 'connection_ack' });
    socket.send({ id: 'l1', type: 'start', payload: { query: VIEWER_EVENTS } });
    await sleep(500);
    const change = await changeRole();
    const message = await socket.nextNonKeepAlive();
    assert.equal(message.type, 'data', JSON.stringify(message));
    assert.equal(message.id, 'l1');
    assertRoleEvent(message.payload.data.viewerMembershipChanged, change);
    socket.send({ id: 'l1', type: 'stop' });
    await sleep(300);
    await changeRole();
    assert.equal(await socket.silence(1000), undefined);
    socket.send({ type: 'connection_terminate' });
    assert.equal((await socket.waitClose()).code, 1000);
  });
});

async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function describeError(error) {
  if (error && typeof error === 'object' && 'code' in error) return `close ${error.code} ${error.reason ?? ''}`;
  return error instanceof Error ? error.message : JSON.stringify(error);
}
