/**
 * How an MQTT route pattern becomes an AsyncAPI channel address. An address is a topic name with `{parameter}`
 * expressions (AsyncAPI 3.0.0, "Channel Object" `address`); it cannot hold MQTT's wildcards. So:
 *
 * - a `{name}` level stays `{name}`, a parameter of the same name;
 * - a `+` level becomes `{wildcardN}` (N counts the anonymous wildcards from 1, as `ctx.wildcards[N-1]`);
 * - a trailing `#` becomes `{rest}`: the rest of the topic, zero or more levels joined with `/` (a parameter value
 *   may hold `/` here, unlike the others; with zero levels the topic is the address before `/{rest}`, and `#`
 *   alone matches every topic).
 *
 * A generated name that clashes with a named param gets `_` appended until it is free. The MQTT filter itself is
 * kept beside the address (`x-mqtt-filter`).
 */
export interface ChannelAddress {
  /** The address, e.g. `sensors/{sensorId}/telemetry` or `logs/{wildcard1}/{rest}`. */
  readonly address: string;
  /** One per parameter of the address, in order. */
  readonly parameters: readonly ChannelParameter[];
}

/** A parameter of a {@link ChannelAddress}. */
export interface ChannelParameter {
  readonly name: string;
  /** What MQTT level it stands for: a named param, an anonymous `+`, or the trailing `#`. */
  readonly kind: 'param' | 'single-level' | 'multi-level';
}

/** The address of a route pattern (already valid: whole-level wildcards, `#` last). O(levels). */
export function channelAddress(pattern: string): ChannelAddress {
  const levels = pattern.split('/');
  const named = new Set(levels.filter(isParam).map((level) => level.slice(1, -1)));
  const free = (name: string): string => {
    let candidate = name;
    while (named.has(candidate)) candidate += '_';
    named.add(candidate);
    return candidate;
  };
  const parameters: ChannelParameter[] = [];
  let wildcards = 0;
  const address = levels.map((level) => {
    if (isParam(level)) {
      parameters.push({ name: level.slice(1, -1), kind: 'param' });
      return level;
    }
    if (level !== '+' && level !== '#') return level;
    const name = level === '+' ? free(`wildcard${++wildcards}`) : free('rest');
    parameters.push({ name, kind: level === '+' ? 'single-level' : 'multi-level' });
    return `{${name}}`;
  });
  return { address: address.join('/'), parameters };
}

function isParam(level: string): boolean {
  return level.length > 2 && level.startsWith('{') && level.endsWith('}');
}
