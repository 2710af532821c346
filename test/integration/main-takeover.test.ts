import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { SESSIONS_ROUTERS } from '../helpers/sessions.js';

// The main process's session taken over by another client: the process stops and exits non-zero with a code, never 0
// (it used to log RMQ_ERR_MQTT_SESSION_TAKEN_OVER and exit 0).
describe('the main session taken over', () => {
  const f = useFixture({ routers: SESSIONS_ROUTERS });

  it('stops the app with exit code 1 and RMQ_ERR_MQTT_SESSION_TAKEN_OVER, without a kick ping-pong', async () => {
    const env = f.env({
      ROUTEMQ_INSTANCE_ID: 'taken',
      SESS_WORKERS: '1',
      MQTT_RECONNECT_MIN_MS: '100',
      MQTT_RECONNECT_MAX_MS: '300',
    });
    const app = await f.serve(env);
    const serving = app.logs().find((l) => l['msg'] === 'RouteMQ is serving');
    const mainClientId = String(serving?.['clientId']);
    expect(mainClientId).toBe(`${env.MQTT_CLIENT_ID}-taken-main`);
    // A persistent client that reconnects at once whenever it is kicked, like a second deployment would.
    const intruder = await f.connect({ clientId: mainClientId, clean: false, reconnectPeriod: 100 });
    let kicks = 0;
    intruder.on('close', () => kicks++);
    const exit = await app.exited;
    expect(exit.code).toBe(1);
    expect(app.logs().some((l) => l['code'] === 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER')).toBe(true);
    const kicksAtExit = kicks;
    await new Promise((r) => setTimeout(r, 1500));
    expect(kicks).toBe(kicksAtExit); // the app gave up; nobody kicks the intruder any more
  }, 60_000);
});
