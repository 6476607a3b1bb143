/**
 * Connections to Redis: turning the `connection` option into clients, and
 * the two time limits that keep a future from hanging on an absent Redis:
 * `connectTimeout` for the first connection, `reconnectTimeout` for a
 * connection that was lost.
 *
 * Every client reconnects quickly (backoff capped at one second, not
 * BullMQ's 20 s) and queues commands while disconnected
 * (`maxRetriesPerRequest: null`): a Redis restart is a pause, not an
 * error. What bounds the pause is the owner's `reconnectTimeout`.
 */
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { BrokenExecutorError } from '../index.js';
import { Redis } from './deps.js';
import { typeError } from './internal.js';

/** A `redis://` (or `rediss://`) URL, or ioredis options (`host`, `port`, `path`, `password`, `tls`, ...). */
export type ConnectionOption = string | RedisOptions;

/** Milliseconds between reconnection attempts: doubling from 100, at most this. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** How to reach Redis, validated. */
export interface Connection {
  /** For BullMQ's own clients (Worker, QueueEvents). */
  readonly bullmq: BullRedisOptions;
  /** Where, for messages (no password). */
  readonly where: string;
  /** A new client (it connects at once), with extra ioredis options. */
  client(name: string, extra?: RedisOptions): RedisClient;
}

/** Validates `connection` and returns how to make clients. */
export function parseConnection(value: unknown): Connection {
  let url: string | undefined;
  let options: RedisOptions;
  if (typeof value === 'string') {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw typeError('connection', 'a redis:// URL or ioredis options', value);
    }
    if (!/^(rediss?|unix):$/.test(parsed.protocol)) {
      throw typeError('connection', 'a redis://, rediss:// or unix:// URL', value);
    }
    url = value;
    options = {};
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    options = { ...(value as RedisOptions) };
  } else {
    throw typeError('connection', 'a redis:// URL or ioredis options', value);
  }
  const common: RedisOptions = {
    retryStrategy: (times: number) =>
      Math.min(100 * 2 ** Math.min(times, 10), MAX_RECONNECT_DELAY_MS),
    ...options,
    // Commands wait for a reconnection instead of failing after 20 retries;
    // the owner's reconnectTimeout bounds the wait. BullMQ requires it too.
    maxRetriesPerRequest: null,
  };
  const where = describeWhere(url, options);
  return {
    bullmq: (url === undefined ? common : { ...common, url }) as BullRedisOptions,
    where,
    client(name: string, extra?: RedisOptions): RedisClient {
      const own = { ...common, ...extra, connectionName: name };
      const client = url === undefined ? new Redis(own) : new Redis(url, own);
      // ioredis reports connection errors as 'error' events; the owner
      // watches 'ready' and 'close'. Without a listener they would be
      // printed as "Unhandled error event".
      client.on('error', () => {});
      return client;
    },
  };
}

/**
 * Resolves once `client` is ready; rejects with BrokenExecutorError naming
 * Redis and the last connection error after `timeoutMs`.
 */
export function whenReady(
  client: RedisClient,
  timeoutMs: number,
  where: string,
  who: string,
): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: unknown;
    const onError = (error: unknown): void => {
      lastError = error;
    };
    const done = (): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    const onReady = (): void => {
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      const why =
        lastError instanceof Error
          ? `: ${lastError.message}`
          : ' (no answer: is it running, and is the address right?)';
      reject(
        new BrokenExecutorError(
          `${who} could not connect to Redis at ${where} within ${timeoutMs} ms (connectTimeout)${why}`,
          { cause: lastError },
        ),
      );
    }, timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/** Disconnects a client at once, without waiting for queued commands. */
export function drop(client: RedisClient | undefined): void {
  if (client === undefined) return;
  try {
    client.disconnect(false);
  } catch {
    // Already gone.
  }
}

/**
 * How long `quit` waits for a client's queued commands to be sent before it
 * drops the connection: enough for a live Redis to take a last heartbeat
 * or removal batch, short enough that closing never hangs on a dead one.
 */
const QUIT_MS = 2000;
/** The same for a subscriber, which has nothing queued worth waiting for. */
export const SUBSCRIBER_QUIT_MS = 1000;

/** Closes a client after its queued commands were sent (QUIT), or drops it after `ms`. */
export async function quit(client: RedisClient | undefined, ms = QUIT_MS): Promise<void> {
  if (client === undefined || client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.quit().catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
  drop(client);
}

function describeWhere(url: string | undefined, options: RedisOptions): string {
  if (url !== undefined) {
    const shown = new URL(url);
    if (shown.password !== '') shown.password = '***';
    return shown.href;
  }
  if (typeof options.path === 'string') return `unix:${options.path}`;
  return `${options.host ?? '127.0.0.1'}:${options.port ?? 6379}`;
}
