import { FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { encodeHybridSignature } from '../crypto/hybrid.js';
import { createBufferingPublisher } from '../events/buffering-publisher.js';
import { createInProcessEventBus } from '../events/in-process.js';
import { decodeJson } from '../events/json.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import { newSandboxId } from '../ids/sandbox-id.js';
import { newUuid } from '../ids/uuid.js';
import { SUBJECTS } from '../wire/subjects.js';
import {
  decodeRuntimeUsageEvent,
  type RuntimeUsageEvent,
  usageEventSigningBytes,
} from '../wire/usage-event.js';
import { createBusUsageSink } from './usage-sink.js';

const agent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(7), { postQuantum: true });

function signedEvent(idempotencyKey: string): RuntimeUsageEvent {
  const unsigned = {
    eventId: newUuid(),
    agentNhi: agent.identity.nhi,
    delegationChain: [],
    eventType: 'network_egress' as const,
    consensusTimestamp: 1_700_000_000_000_000_000n,
    idempotencyKey,
    properties: {
      type: 'NetworkEgress' as const,
      sandboxId: newSandboxId(),
      destination: 'api.example.com',
      bytesTransferred: 1234n,
    },
  };
  return {
    ...unsigned,
    signature: encodeHybridSignature(agent.signHybrid(usageEventSigningBytes(unsigned))),
  };
}

describe('createBusUsageSink', () => {
  it('publishes the wire JSON on metering.events.runtime, deduplicated on the idempotency key', async () => {
    const clock = new FakeClock();
    const bus = createInProcessEventBus({ clock });
    await bus.addStream({ name: 'METERING', subjects: ['metering.events.>'] });
    const sink = createBusUsageSink({ publisher: createBufferingPublisher({ bus, clock }) });
    const event = signedEvent('egress-1');
    await sink.publish(event);
    await sink.publish(event); // a retry of the same usage
    await sink.publish(signedEvent('egress-2'));

    await bus.addConsumer('METERING', { name: 'metering', filterSubject: SUBJECTS.meteringEventsRuntime });
    const received: RuntimeUsageEvent[] = [];
    const sub = await bus.subscribe('METERING', 'metering', (m) => {
      expect(m.subject).toBe('metering.events.runtime');
      received.push(decodeRuntimeUsageEvent(decodeJson(m.data)));
      m.ack();
    });
    for (let i = 0; i < 5; i++) await clock.advanceAsync(0);
    await sub.unsubscribe();
    expect(received.map((e) => e.idempotencyKey)).toEqual(['egress-1', 'egress-2']);
    expect(received[0]).toEqual(event);
  });

  it('publishes on the subject it is given and reports a refused publish', async () => {
    const published: string[] = [];
    const sink = createBusUsageSink({
      subject: 'custom.usage',
      publisher: {
        async publish(subject) {
          published.push(subject);
          if (published.length > 1) throw new Error('buffer full');
          return { status: 'published', ack: { stream: 'S', seq: 1, duplicate: false } };
        },
      },
    });
    await sink.publish(signedEvent('a'));
    await expect(sink.publish(signedEvent('b'))).rejects.toThrow('buffer full');
    expect(published).toEqual(['custom.usage', 'custom.usage']);
  });
});
