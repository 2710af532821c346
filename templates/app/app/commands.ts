import type { MessageContext } from 'routemq';

/** Answer a command on `devices/<deviceId>/commands/<command>` with a reply on `devices/<deviceId>/replies`. */
export async function handleCommand(ctx: MessageContext<{ deviceId: string }>): Promise<void> {
  const command = ctx.wildcards[0] ?? 'unknown'; // the level matched by `+`
  await ctx.publish(`devices/${ctx.params.deviceId}/replies`, { command, ok: true });
}
