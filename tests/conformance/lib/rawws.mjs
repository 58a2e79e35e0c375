// A raw WebSocket client for protocol tests: queued messages, awaited with
// deadlines, and the close code and reason the server sent.

import WebSocket from 'ws';
import { WS_URL } from './orgql.mjs';

export class RawSocket {
  /** Opens a socket; resolves once the upgrade is done. */
  static async open({ protocol = 'graphql-transport-ws', headers = {} } = {}) {
    const socket = new RawSocket(new WebSocket(WS_URL, protocol, { headers }));
    await new Promise((resolve, reject) => {
      socket.ws.once('open', resolve);
      socket.ws.once('error', reject);
      socket.ws.once('unexpected-response', (_, res) =>
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)),
      );
    });
    return socket;
  }

  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.openedAt = Date.now();
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), afterMs: Date.now() - this.openedAt };
        resolve(this.closeInfo);
        for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`socket closed: ${code} ${reason}`));
      });
    });
    ws.on('error', () => {}); // surfaced through `closed`
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      let message;
      try {
        message = JSON.parse(text);
      } catch {
        message = { unparsable: text, isBinary };
      }
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(message);
      else this.queue.push(message);
    });
  }

  get protocol() {
    return this.ws.protocol;
  }

  send(message) {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message from the server, within `timeoutMs`. */
  next(timeoutMs = 5000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) {
      return Promise.reject(new Error(`socket closed: ${this.closeInfo.code} ${this.closeInfo.reason}`));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no message from the server within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next message that is not a server keep-alive ping/ka. */
  async nextNonKeepAlive(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.next(Math.max(1, deadline - Date.now()));
      if (message.type === 'ping') {
        this.send({ type: 'pong' });
        continue;
      }
      if (message.type === 'ka') continue;
      return message;
    }
  }

  /** Asserts no message (other than keep-alives) arrives within `ms`; returns what did. */
  async silence(ms) {
    try {
      return await this.nextNonKeepAlive(ms);
    } catch (error) {
      if (/no message/.test(error.message)) return undefined;
      throw error;
    }
  }

  /** Waits for the close; resolves { code, reason, afterMs } or rejects after `timeoutMs`. */
  async waitClose(timeoutMs = 5000) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the server did not close the socket within ${timeoutMs} ms (queued: ${JSON.stringify(this.queue)})`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }
}
