import type { BufferingPublisher } from '../events/buffering-publisher.js';
import { encodeJson } from '../events/json.js';
import { SUBJECTS } from '../wire/subjects.js';
import { encodeRuntimeUsageEvent, type RuntimeUsageEvent } from '../wire/usage-event.js';

/**
 * Where Runtime sends its signed usage events (spec §4.1): by default the event bus subject
 * `metering.events.runtime` through a buffering publisher ({@link createBusUsageSink}); tests and
 * single-process hosts may hand events to Metering directly.
 */
export interface UsageSink {
  /**
   * Accepts one signed event. Resolves once the event is stored or safely buffered; rejects with
   * `PL-503` when it can be neither (the caller keeps the event and may retry with the same
   * idempotency key).
   */
  publish(event: RuntimeUsageEvent): Promise<void>;
}

/** Options of {@link createBusUsageSink}. */
export interface BusUsageSinkOptions {
  /** The publisher to send through (it buffers while the bus is down, spec §4.1). */
  readonly publisher: Pick<BufferingPublisher, 'publish'>;
  /** Subject; default `SUBJECTS.meteringEventsRuntime`. */
  readonly subject?: string;
}

/**
 * A {@link UsageSink} that publishes the wire JSON of each event on the bus, with the event's
 * `idempotency_key` as the message id so a retried publish is stored once (spec §9.2).
 *
 * @example
 * ```ts
 * const sink = createBusUsageSink({ publisher: createBufferingPublisher({ bus, clock }) });
 * await sink.publish(signedEvent);
 * ```
 */
export function createBusUsageSink(options: BusUsageSinkOptions): UsageSink {
  const subject = options.subject ?? SUBJECTS.meteringEventsRuntime;
  const { publisher } = options;
  return Object.freeze({
    async publish(event: RuntimeUsageEvent): Promise<void> {
      const wire = encodeRuntimeUsageEvent(event);
      // 'published' and 'buffered' both mean accepted: a buffered event is flushed in order.
      await publisher.publish(subject, encodeJson(wire), { msgId: event.idempotencyKey });
    },
  });
}
