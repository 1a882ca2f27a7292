import { sleep, systemClock } from '@creto/core';
// The contract lives in @creto/testing; imported by path until the package index exports it.
import { eventBusContract } from '@creto/testing/contracts';
import { describe, it } from 'vitest';
import { natsUrl, SKIP_NATS, trackingBus } from '../../test/nats-server.js';
import { createNatsEventBus } from './nats-event-bus.js';

// A real server runs on real time: the suite's unit sets its ack waits (10 units), nak delays (4)
// and duplicate windows (20). 40 ms keeps every window above JetStream's 100 ms minimum and the
// margins (a few units) well above the server's timer and network latency on loopback.
const UNIT_MS = 40;

const url = natsUrl();

if (url === undefined) {
  describe.skip('EventBus contract: NATS JetStream', () => {
    it(SKIP_NATS, () => {});
  });
} else {
  eventBusContract(
    'NATS JetStream',
    async () => {
      const tracked = trackingBus(await createNatsEventBus({ servers: url, storage: 'memory' }));
      return {
        bus: tracked.bus,
        advance: (ms: number) => sleep(systemClock, ms),
        settle: () => sleep(systemClock, UNIT_MS / 4),
        close: () => tracked.cleanup(),
      };
    },
    { unitMs: UNIT_MS, settleSteps: 200 },
  );
}
