import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { RedisManager } from '../../src/redis/redis-manager.js';
import type { Router } from '../../src/router/router.js';
import type { RouteMQApp } from '../../src/runtime/app.js';
import type { WorkerManager } from '../../src/worker/worker-manager.js';
import { startTestApp } from './app.js';
import { startTestBroker } from './broker.js';
import type { TestBroker } from './broker.js';
import { childPids } from './load.js';
import { createTestManager } from './manager.js';
import { connectClient, uniqueName } from './mqtt.js';
import { startTestRedis } from './redis-server.js';
import type { TestRedis, TestRedisTls } from './redis-server.js';
import { connectRedis, dropKeys, startRedisManager } from './redis.js';
import { spawnRouteMQ } from './spawn-app.js';
import type { SpawnedApp } from './spawn-app.js';

/** What one test file sets up; everything else has a default. */
export interface FixtureOptions {
  /**
   * A private Mosquitto for the file, started before its tests: extra config lines, or `false` for none (the file
   * may still call {@link Fixture.startBroker}, e.g. with a config that needs files of {@link Fixture.dir}).
   * @defaultValue [] (a broker with the repo's config)
   */
  readonly broker?: readonly string[] | false;
  /** `ROUTEMQ_ROUTERS_DIR` of every {@link Fixture.env}. */
  readonly routers?: string;
  /** Variables every {@link Fixture.env} of this file has, over the defaults. */
  readonly env?: Readonly<Record<string, string>>;
  /** Connect {@link Fixture.redis}, a plain client to the real Redis on 127.0.0.1:6379. @defaultValue false */
  readonly redis?: boolean;
}

/** An app environment: every value a string, `SEEN_FILE` always set. */
export type TestEnv = Record<string, string> & { readonly SEEN_FILE: string };

/** Variables to add; `undefined` removes a default. */
export type EnvPatch = Readonly<Record<string, string | undefined>>;

/**
 * The one owner of what a test file starts: a broker, a temp dir, an env builder, spawned apps, MQTT clients,
 * WorkerManagers, in-process apps, Redis clients and servers. What a test starts is stopped after that test; what
 * `beforeAll` (or the fixture itself) starts is stopped after the file, in reverse order, every step even when
 * another failed or the test did.
 */
export interface Fixture {
  /** The file's broker (the first one started). */
  readonly broker: TestBroker;
  /** The file's temp dir, deleted after the file. */
  readonly dir: string;
  /** A plain ioredis client to 127.0.0.1:6379 (with `redis: true`). */
  readonly redis: Redis;
  /** A fresh path in {@link dir}: `<name>-<random><ext>`. */
  path(name: string, ext?: string): string;
  /** A fresh directory in {@link dir}. */
  mkdir(name: string): string;
  /**
   * The environment of an app against the broker: `MQTT_BROKER`/`MQTT_PORT`, a unique client id and share group,
   * instance id `test`, no control socket, the file's routers, a fresh `SEEN_FILE`; then the file's `env`; then
   * `extra`.
   */
  env(extra?: EnvPatch): TestEnv;
  /**
   * Run `routemq <args>` (killed with its process group after the test); `bin` is the CLI script (default: the
   * repository's bin/routemq.js; an installed app's `node_modules/.bin/routemq`, say).
   */
  spawn(args: readonly string[], env: Record<string, string>, cwd?: string, bin?: string): SpawnedApp;
  /** `routemq start` with `env`, resolved once it logs "RouteMQ is serving". */
  serve(env?: Record<string, string>): Promise<SpawnedApp>;
  /** A plain MQTT.js client to the broker (ended after the test). */
  connect(options?: IClientOptions): Promise<MqttClient>;
  /** A WorkerManager over the pools fixture (its workers stopped, and killed if need be, after the test). */
  manager(env: Record<string, string>): Promise<{ manager: WorkerManager; lines: Record<string, unknown>[] }>;
  /** A started in-process app whose routes `register` declares. */
  app(register: (router: Router) => void, env?: Record<string, string>): Promise<RouteMQApp>;
  /** Start another private broker (the first one started becomes {@link broker}). */
  startBroker(extra?: readonly string[]): Promise<TestBroker>;
  /** Start {@link broker} again on its port and data dir (after the test stopped it). */
  restartBroker(): Promise<TestBroker>;
  /** A unique Redis key prefix (`<name>-<random>:`); its keys are deleted after the file. */
  prefix(name: string): string;
  /** A private redis-server (no persistence), optionally TLS-only. */
  redisServer(tls?: TestRedisTls): Promise<TestRedis>;
  /** A started RedisManager configured from `env`, and whether it became ready in time. */
  redisManager(env: Record<string, string>, timeoutMs?: number): Promise<{ manager: RedisManager; ready: boolean }>;
  /** Run `cleanup` at the end of the current test (or of the file, when called outside a test). */
  defer(cleanup: () => unknown): void;
}

/**
 * Set up a test file (or a `describe`): call it once at the top of the scope, then use the returned fixture in
 * hooks and tests.
 *
 * @example
 * const f = useFixture({ routers: FAULTS_ROUTERS });
 * it('…', async () => {
 *   const app = await f.serve(f.env({ FAULTS_WORKERS: '2' }));
 *   const client = await f.connect();
 * });
 */
export function useFixture(options: FixtureOptions = {}): Fixture {
  const fileScope: (() => unknown)[] = [];
  let testScope: (() => unknown)[] | undefined;
  const brokers: TestBroker[] = [];
  const prefixes: string[] = [];
  let dir: string | undefined;
  let redis: Redis | undefined;

  const defer = (cleanup: () => unknown): void => void (testScope ?? fileScope).push(cleanup);
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`fixture: no ${what} (see useFixture's options)`);
    return value;
  };
  const rawRedis = async (): Promise<Redis> => {
    if (!redis) {
      redis = await connectRedis();
      fileScope.unshift(() => redis?.quit()); // last, after the prefixes' keys are gone
    }
    return redis;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'routemq-test-'));
    const created = dir;
    fileScope.push(() => rmSync(created, { recursive: true, force: true }));
    if (options.broker !== false) await fixture.startBroker(options.broker ?? []);
    if (options.redis) await rawRedis();
  });
  beforeEach(() => {
    testScope = [];
  });
  afterEach(async () => {
    const scope = testScope ?? [];
    testScope = undefined;
    await runAll(scope);
  });
  afterAll(async () => {
    if (prefixes.length > 0) {
      const client = await rawRedis();
      fileScope.push(async () => {
        for (const prefix of prefixes) await dropKeys(client, prefix);
      });
    }
    await runAll(fileScope);
  });

  const fixture: Fixture = {
    get broker() {
      return need(brokers[0], 'broker');
    },
    get dir() {
      return need(dir, 'temp dir (use it in hooks and tests, not at collection time)');
    },
    get redis() {
      return need(redis, 'Redis client');
    },
    path: (name, ext = '.txt') => join(fixture.dir, `${uniqueName(name)}${ext}`),
    mkdir(name) {
      const path = join(fixture.dir, uniqueName(name));
      mkdirSync(path);
      return path;
    },
    env(extra = {}) {
      const merged: Record<string, string | undefined> = {
        MQTT_BROKER: '127.0.0.1',
        MQTT_PORT: String(fixture.broker.port),
        MQTT_CLIENT_ID: uniqueName('app'),
        MQTT_GROUP_NAME: uniqueName('g'),
        ROUTEMQ_INSTANCE_ID: 'test',
        ROUTEMQ_CONTROL_SOCKET: 'none',
        ...(options.routers !== undefined ? { ROUTEMQ_ROUTERS_DIR: options.routers } : {}),
        SEEN_FILE: fixture.path('seen'),
        ...options.env,
        ...extra,
      };
      const env = Object.fromEntries(
        Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined),
      ) as TestEnv;
      return env;
    },
    spawn(args, env, cwd, bin) {
      const app = spawnRouteMQ(args, env, cwd, bin);
      defer(() => app.kill());
      return app;
    },
    async serve(env = fixture.env()) {
      const app = fixture.spawn(['start'], env);
      await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
      return app;
    },
    async connect(clientOptions = {}) {
      const client = await connectClient(fixture.broker.url, clientOptions);
      defer(() => client.endAsync(true));
      return client;
    },
    async manager(env) {
      const created = await createTestManager(fixture.broker, env);
      defer(async () => {
        await created.manager.stopWorkers();
        for (const pid of childPids()) process.kill(pid, 'SIGKILL');
      });
      return created;
    },
    async app(register, env = {}) {
      const app = await startTestApp(fixture.broker, register, env);
      defer(() => app.stop());
      return app;
    },
    async startBroker(extra = []) {
      const broker = await startTestBroker(extra);
      const index = brokers.push(broker) - 1;
      // The broker at this index may have been restarted since: dispose of whichever runs now.
      defer(() => brokers[index]?.dispose());
      return broker;
    },
    async restartBroker() {
      const old = fixture.broker;
      await old.stop();
      brokers[0] = await old.restart();
      return brokers[0];
    },
    prefix(name) {
      const prefix = `${uniqueName(name)}:`;
      prefixes.push(prefix);
      return prefix;
    },
    async redisServer(tls) {
      const server = await startTestRedis(tls);
      defer(() => server.stop());
      return server;
    },
    async redisManager(env, timeoutMs) {
      const started = await startRedisManager(env, timeoutMs);
      defer(() => started.manager.stop());
      return started;
    },
    defer,
  };
  return fixture;
}

/** Run every cleanup, last registered first, each isolated; then throw what failed. */
async function runAll(cleanups: (() => unknown)[]): Promise<void> {
  const errors: unknown[] = [];
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop() as () => unknown;
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`);
}
