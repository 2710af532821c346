import type { MessageContext } from '../../src/index.js';

/**
 * Handle a device command on `devices/<deviceId>/commands/<command>` and publish the reply on
 * `devices/<deviceId>/replies`. The command name comes from the anonymous `+` level: `ctx.wildcards[0]`.
 */
export async function handleCommand(ctx: MessageContext<{ deviceId: string }>): Promise<void> {
  const command = ctx.wildcards[0] ?? 'unknown';
  ctx.log.debug({ deviceId: ctx.params.deviceId, command, payload: ctx.payload }, 'command received');
  await ctx.publish(`devices/${ctx.params.deviceId}/replies`, { command, ok: true, at: Date.now() });
}
