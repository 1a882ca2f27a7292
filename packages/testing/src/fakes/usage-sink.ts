import {
  EnablementError,
  encodeRuntimeUsageEvent,
  type RuntimeUsageEvent,
  type RuntimeUsageEventWire,
  type UsageSink,
} from '@creto/core';
import { BoundedLog, DEFAULT_MAX_RECORDED } from './recorder.js';

/** Options of {@link createRecordingUsageSink}. */
export interface RecordingUsageSinkOptions {
  /** Most events kept (oldest forgotten first, counted in `dropped`); default 10 000. */
  readonly maxEvents?: number;
  /**
   * Encode each event with core's wire codec before accepting it (default `true`), so an event
   * Metering could not decode fails at `publish` with the codec's error naming the field.
   */
  readonly validate?: boolean;
}

/** A {@link UsageSink} that keeps what it is given. */
export interface RecordingUsageSink extends UsageSink {
  /** Accepted events, oldest first. */
  readonly events: readonly RuntimeUsageEvent[];
  /** Their wire JSON (what the bus would carry), in the same order. */
  readonly wire: readonly RuntimeUsageEventWire[];
  /** Events forgotten at the bound. */
  readonly dropped: number;
  /** Accepted events of one `event_type` (e.g. `sandbox_allocated`). */
  ofType(eventType: string): RuntimeUsageEvent[];
  /**
   * Makes `publish` reject with `error` (default a retryable `PL-503`, the port's "neither stored
   * nor buffered") for the next `count` calls (default: until `recover()`).
   */
  fail(error?: EnablementError, count?: number): void;
  /** Accepts again. */
  recover(): void;
  /** Forgets the events. */
  clear(): void;
}

/**
 * A recording fake of core's `UsageSink` port (where Runtime sends its signed usage events,
 * spec §4.1): keeps every event and its wire JSON, and can be told to fail so a test can check
 * that the producer keeps and retries its events.
 *
 * @example
 * ```ts
 * const usage = createRecordingUsageSink();
 * const runtime = createRuntime({ platform, hostKey, usage });
 * const sandbox = await runtime.spawnSandbox({ agent });
 * await runtime.flushUsage();
 * expect(usage.ofType('sandbox_allocated')).toHaveLength(1);
 * usage.fail(); // next publishes reject with PL-503: the runtime's outbox keeps them
 * ```
 */
export function createRecordingUsageSink(options: RecordingUsageSinkOptions = {}): RecordingUsageSink {
  const max = options.maxEvents ?? DEFAULT_MAX_RECORDED;
  const events = new BoundedLog<RuntimeUsageEvent>(max, 'maxEvents');
  const wire = new BoundedLog<RuntimeUsageEventWire>(max, 'maxEvents');
  const validate = options.validate ?? true;
  let failure: { error: EnablementError; remaining: number } | undefined;
  return {
    get events() {
      return events.toArray();
    },
    get wire() {
      return wire.toArray();
    },
    get dropped() {
      return events.dropped;
    },
    async publish(event: RuntimeUsageEvent): Promise<void> {
      if (failure !== undefined) {
        const { error } = failure;
        failure.remaining--;
        if (failure.remaining <= 0) failure = undefined;
        throw error;
      }
      // Encoding first: a malformed event is refused without being recorded.
      const json = validate ? encodeRuntimeUsageEvent(event) : undefined;
      events.push(event);
      if (json !== undefined) wire.push(json);
    },
    ofType(eventType: string) {
      return events.items.filter((e) => e.eventType === eventType);
    },
    fail(error = new EnablementError('PL-503', 'usage sink unavailable (fake)', { retryable: true }), count) {
      if (count !== undefined && (!Number.isSafeInteger(count) || count < 1)) {
        throw new EnablementError('PL-400', 'fail: count must be a positive integer');
      }
      failure = { error, remaining: count ?? Number.POSITIVE_INFINITY };
    },
    recover() {
      failure = undefined;
    },
    clear() {
      events.clear();
      wire.clear();
    },
  };
}
