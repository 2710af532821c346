import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sessionCluster } from '../helpers/sessions.js';
import { useFixture } from '../helpers/fixture.js';

// An identity that may not both read and write the registry prefix: the registry's read barrier (a marker published
// under the prefix must come back) would wait forever. `routemq start` and `routemq sessions ls` fail with a code.
describe('an ACL without full access to ROUTEMQ_REGISTRY_PREFIX', () => {
  // A broker per case (each with its own ACL); the fixture stops it and the apps after the case.
  const f = useFixture({ broker: false });

  const cases = [
    { access: 'write', protocol: '5', why: 'read denied: nothing comes back' },
    { access: 'read', protocol: '4', why: 'write denied: MQTT 3.1.1 drops the publish in silence' },
  ] as const;
  for (const { access, protocol, why } of cases) {
    it(`${access} only, MQTT ${protocol === '5' ? '5' : '3.1.1'} (${why}): start and sessions ls exit 1 with RMQ_ERR_REGISTRY_FAILED`, async () => {
      const acl = join(f.dir, `acl-${access}`);
      writeFileSync(acl, ['topic readwrite sa/#', `topic ${access} routemq/registry/#`, ''].join('\n'));
      const broker = await f.startBroker(['allow_anonymous true', `acl_file ${acl}`]);
      const cluster = sessionCluster(
        { broker, dir: f.dir, spawn: (args, env, cwd) => f.spawn(args, env, cwd) },
        {
          MQTT_PROTOCOL_VERSION: protocol,
          MQTT_CONNECT_TIMEOUT_MS: '3000',
        },
      );
      const app = f.spawn(['start'], {
        ...cluster.env,
        ROUTEMQ_INSTANCE_ID: `acl-${access}`,
        ROUTEMQ_STATE_DIR: join(f.dir, access),
      });
      expect((await app.exited).code).toBe(1);
      expect(app.lines.join('\n')).toContain('routemq: RMQ_ERR_REGISTRY_FAILED');
      expect(app.logs().some((l) => l['msg'] === 'RouteMQ is serving')).toBe(false);
      const ls = f.spawn(['sessions', 'ls'], cluster.env);
      expect((await ls.exited).code).toBe(1);
      expect(ls.lines.join('\n')).toContain('routemq: RMQ_ERR_REGISTRY_FAILED');
    }, 90_000);
  }
});
