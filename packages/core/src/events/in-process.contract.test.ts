import { FakeClock } from '@creto/testing';
// The contract lives in @creto/testing; imported by path until the package index exports it.
import { eventBusContract } from '@creto/testing/contracts';
import { createInProcessEventBus } from './in-process.js';

eventBusContract('in-process (FakeClock)', () => {
  const clock = new FakeClock();
  const bus = createInProcessEventBus({ clock });
  return {
    bus,
    advance: async (ms: number) => {
      await clock.advanceAsync(ms);
    },
    settle: async () => {
      await clock.advanceAsync(0);
    },
    close: () => bus.close(),
  };
});
