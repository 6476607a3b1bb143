/**
 * BullMQ and ioredis: optional peer dependencies, loaded only by
 * `concurrent-futures/distributed`.
 *
 * They are peers, not dependencies, so that the core package stays light
 * (BullMQ brings ~15 MB of transitive packages) and so that the application
 * owns the one copy of BullMQ its dashboards and other queues use. When
 * they are missing, importing the sub-path fails at once with the command
 * that installs them, instead of a bare "Cannot find package".
 *
 * Loaded with require(): both are CommonJS, and a synchronous load keeps
 * the sub-path free of top-level await, so CommonJS consumers can
 * require() it too.
 */
import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';
import type * as IORedis from 'ioredis';

/** The versions this package is tested with (its peerDependencies). */
export const PEERS = 'bullmq@^6.7.0 ioredis@^5.11.1';

const require = createRequire(import.meta.url);

function load<T>(name: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new Error(
        `concurrent-futures/distributed needs the packages bullmq and ioredis, and '${name}' is not installed: ` +
          `run \`npm install ${PEERS}\``,
        { cause: error },
      );
    }
    throw error;
  }
}

const bullmq = load<typeof BullMQ>('bullmq');
const ioredis = load<typeof IORedis>('ioredis');

export const { Queue, QueueEvents, Worker } = bullmq;
/** The ioredis client class. */
export const Redis: typeof IORedis.Redis = ioredis.Redis ?? ioredis.default;
