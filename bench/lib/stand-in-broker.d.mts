/** See stand-in-broker.mjs. */
export function startStandInBroker(options: {
  n: number;
  qos: number;
  onSubscribed?: () => void;
  onClose?: () => void;
}): Promise<{ port: number; acked: () => number; go: () => void }>;
