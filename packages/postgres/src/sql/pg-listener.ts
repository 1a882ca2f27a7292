import { type Clock, sleep } from '@creto/core';
import type pg from 'pg';
import { type SqlNotificationHandler, type SqlUnlisten, toSqlError } from './client.js';

/** One connection opened for notifications, and how to let it go. */
export interface PgListenConnection {
  /** The connection (`LISTEN` runs on it; it emits `notification`, `error`, `end`). */
  readonly client: pg.ClientBase;
  /** Closes it (or destroys it, when it was checked out of a pool). */
  close(): void;
}

/** First wait before re-opening a lost notification connection, ms. */
const FIRST_RECONNECT_DELAY_MS = 100;
/** Longest wait between two attempts to re-open it, ms. */
const MAX_RECONNECT_DELAY_MS = 30_000;

interface Live {
  readonly connection: PgListenConnection;
  /** Channels `LISTEN`ed on this connection. */
  readonly listened: Set<string>;
  lost: boolean;
}

/** The `listen` of the pg driver: one dedicated connection shared by every channel. */
export interface PgListener {
  /** `LISTEN` on `channel` (`quoted` for SQL); resolves once it is in force. */
  listen(channel: string, quoted: string, handler: SqlNotificationHandler): Promise<SqlUnlisten>;
  /** Ends every subscription and closes the connection. */
  close(): void;
}

const quote = (channel: string): string => `"${channel}"`;

/**
 * Notifications on `pg` (LISTEN needs a session of its own: a pooled connection goes back to the
 * pool between queries). One connection is opened on the first `listen` and closed when the
 * last subscription ends. When it is lost (server restart, `pg_terminate_backend`), it is
 * re-opened with exponential backoff (100 ms doubling to 30 s, on `clock`) and every channel is
 * listened again; notifications committed in between are not delivered (best effort, as
 * PostgreSQL's own `LISTEN` is for a session that ends).
 */
export function createPgListener(open: () => Promise<PgListenConnection>, clock: Clock): PgListener {
  const handlers = new Map<string, Set<SqlNotificationHandler>>();
  let live: Promise<Live> | undefined;
  let reconnecting = false;
  let closed = false;

  const dispatch = (message: pg.Notification): void => {
    const set = handlers.get(message.channel);
    if (set === undefined) return;
    for (const handler of [...set]) {
      try {
        handler(message.payload ?? '');
      } catch {
        // A failing handler must not stop the others or the connection.
      }
    }
  };

  async function connect(): Promise<Live> {
    let connection: PgListenConnection;
    try {
      connection = await open();
    } catch (error) {
      throw toSqlError(error, 'listen');
    }
    const state: Live = { connection, listened: new Set(), lost: false };
    const onLost = () => {
      if (state.lost) return;
      state.lost = true;
      connection.client.off('notification', dispatch);
      connection.close();
      if (live !== undefined) {
        void live.then(
          (current) => {
            if (current === state) {
              live = undefined;
              void reconnect();
            }
          },
          () => undefined,
        );
      }
    };
    connection.client.on('notification', dispatch);
    connection.client.on('error', onLost);
    connection.client.on('end', onLost);
    return state;
  }

  /** The live connection, opened when there is none. */
  function ensure(): Promise<Live> {
    if (live === undefined) {
      const attempt = connect();
      live = attempt;
      attempt.catch(() => {
        if (live === attempt) live = undefined;
      });
    }
    return live;
  }

  async function listenOn(state: Live, channel: string): Promise<void> {
    if (state.listened.has(channel)) return;
    try {
      await state.connection.client.query(`LISTEN ${quote(channel)}`);
    } catch (error) {
      throw toSqlError(error, 'listen');
    }
    state.listened.add(channel);
  }

  async function reconnect(): Promise<void> {
    if (reconnecting) return;
    reconnecting = true;
    try {
      for (let delay = FIRST_RECONNECT_DELAY_MS; !closed && handlers.size > 0; ) {
        await sleep(clock, delay);
        if (closed || handlers.size === 0) return;
        try {
          const state = await ensure();
          for (const channel of [...handlers.keys()]) await listenOn(state, channel);
          return;
        } catch {
          const state = await live?.catch(() => undefined);
          if (state !== undefined && !state.lost) {
            state.lost = true;
            state.connection.close();
          }
          live = undefined;
          delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
        }
      }
    } finally {
      reconnecting = false;
    }
  }

  async function unlisten(channel: string, handler: SqlNotificationHandler): Promise<void> {
    const set = handlers.get(channel);
    if (set === undefined || !set.delete(handler) || set.size > 0) return;
    handlers.delete(channel);
    const state = await live?.catch(() => undefined);
    if (state === undefined || state.lost) return;
    if (handlers.size === 0) {
      // Nobody listens any more: the connection goes (with its LISTENs).
      state.lost = true;
      live = undefined;
      state.connection.client.off('notification', dispatch);
      state.connection.close();
      return;
    }
    state.listened.delete(channel);
    await state.connection.client.query(`UNLISTEN ${quote(channel)}`).catch(() => undefined);
  }

  return {
    async listen(channel: string, _quoted: string, handler: SqlNotificationHandler): Promise<SqlUnlisten> {
      // Own wrapper: the same function may listen twice and is removed once per subscription.
      const own: SqlNotificationHandler = (payload) => handler(payload);
      let set = handlers.get(channel);
      if (set === undefined) {
        set = new Set();
        handlers.set(channel, set);
      }
      set.add(own);
      try {
        await listenOn(await ensure(), channel);
      } catch (error) {
        await unlisten(channel, own);
        throw error;
      }
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        await unlisten(channel, own);
      };
    },
    close(): void {
      closed = true;
      handlers.clear();
      const current = live;
      live = undefined;
      void current?.then(
        (state) => {
          if (state.lost) return;
          state.lost = true;
          state.connection.client.off('notification', dispatch);
          state.connection.close();
        },
        () => undefined,
      );
    },
  };
}
