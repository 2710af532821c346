// The stand-in broker of `npm run bench:dispatch`'s QoS path measurement in a process of its own (so valgrind
// counts only the subscriber): bench/lib/stand-in-broker.mjs behind IPC. It takes one connection and sends BENCH_N
// PUBLISHes at BENCH_QOS once subscribed. It reports `{ port }` once listening, then `{ acked }` (PUBACKs received)
// when the client leaves. With BENCH_HOLD set, it reports `{ subscribed: true }` after the SUBACK and waits for a
// `go` message to send.
import { startStandInBroker } from './stand-in-broker.mjs';

const hold = Boolean(process.env['BENCH_HOLD']);
const broker = await startStandInBroker({
  n: Number(process.env['BENCH_N']),
  qos: Number(process.env['BENCH_QOS']),
  onSubscribed: () => {
    if (!hold) return broker.go();
    process.send?.({ subscribed: true });
    process.once('message', () => broker.go());
  },
  onClose: () => process.send?.({ acked: broker.acked() }),
});
process.send?.({ port: broker.port });
process.on('disconnect', () => process.exit(0));
