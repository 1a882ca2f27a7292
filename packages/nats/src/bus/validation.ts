import {
  assertFilter,
  assertSubject,
  type Clock,
  type ConsumerConfig,
  createInProcessEventBus,
  DEAD_LETTER_STREAM,
  EnablementError,
  EVENT_BUS_LIMITS,
  type InProcessEventBus,
  isBytes,
  type PublishOptions,
  type ResolvedConsumerConfig,
  type ResolvedStreamConfig,
  type StreamConfig,
} from '@creto/core';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const EMPTY = new Uint8Array(0);
const PROBE_STREAM = 'PROBE';
const PROBE_SUBJECT = 'probe';

/**
 * The port's input rules, applied by the reference implementation. Core's in-process bus checks
 * every configuration and publish exactly as the port specifies (`PL-400` naming the field,
 * defaults filled in, limits of `EVENT_BUS_LIMITS`); its checking helpers are not exported, so
 * rather than copying them (and letting the copy drift), the adapter runs each input through a
 * private in-process bus that stores nothing for long. Both implementations therefore accept and
 * refuse the same input with the same messages.
 */
export interface PortValidator {
  /** A stream configuration resolved with the port's defaults; `PL-400` when invalid. */
  stream(config: StreamConfig): Promise<ResolvedStreamConfig>;
  /**
   * A consumer configuration resolved with the port's defaults; `PL-400` when invalid. Whether
   * its filter fits the stream is checked by the caller, which knows the stream's subjects.
   */
  consumer(config: ConsumerConfig): Promise<ResolvedConsumerConfig>;
  /** Throws `PL-400` unless the publish input is valid (subject, bytes, msgId, headers). */
  publish(subject: unknown, data: unknown, options: PublishOptions | undefined): void;
  /** Frees the private buses. */
  close(): Promise<void>;
}

/** Throws `PL-400` unless `name` is a stream or consumer name (1–64 of `A–Z a–z 0–9 _ -`). */
export function assertName(name: unknown, field: string): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new EnablementError('PL-400', `${field}: expected 1-64 characters of A-Z a-z 0-9 _ -`);
  }
}

/** Creates the validator (two private in-process buses on `clock`; no timers run). */
export async function createPortValidator(clock: Clock): Promise<PortValidator> {
  // Configurations: each one is added and removed in the same synchronous turn (the in-process
  // bus does its work before its promise settles), so concurrent calls never see each other.
  const configs: InProcessEventBus = createInProcessEventBus({ clock });
  // Publishes: one stream that keeps a single empty message and no msgId memory beyond it.
  const publishes: InProcessEventBus = createInProcessEventBus({ clock, maxDuplicateIds: 1 });
  await publishes.addStream({
    name: PROBE_STREAM,
    subjects: [PROBE_SUBJECT],
    discard: 'old',
    maxMessages: 1,
    maxBytes: EVENT_BUS_LIMITS.maxBytes,
    maxMessageSize: EVENT_BUS_LIMITS.maxMessageSize,
    duplicateWindowMs: 0,
  });

  return {
    async stream(config) {
      const name = (config as { name?: unknown } | null | undefined)?.name;
      if (name === DEAD_LETTER_STREAM) {
        throw new EnablementError(
          'PL-409',
          `stream '${DEAD_LETTER_STREAM}' is the bus's dead-letter stream; configure it with the deadLetter option`,
        );
      }
      const added = configs.addStream(config);
      // Subjects overlapping `$DLQ.>` are refused here (PL-409), as they would be on the server.
      // Not found when the add failed: nothing to remove.
      if (typeof name === 'string') configs.deleteStream(name).catch(() => undefined);
      return (await added).config;
    },

    async consumer(config) {
      // The in-process bus checks a filter against its stream's subjects; the real stream is on
      // the server, so the configuration is resolved on the always-present dead-letter stream
      // without its filter, and the filter is checked on its own.
      const isObject = typeof config === 'object' && config !== null && !Array.isArray(config);
      const { filterSubject, ...rest } = isObject ? config : { filterSubject: undefined };
      const probe = isObject ? rest : config;
      const name = (probe as { name?: unknown } | null | undefined)?.name;
      const added = configs.addConsumer(DEAD_LETTER_STREAM, probe as ConsumerConfig);
      if (typeof name === 'string') configs.deleteConsumer(DEAD_LETTER_STREAM, name).catch(() => undefined);
      const info = await added;
      const filter = filterSubject ?? '>';
      assertFilter(filter, 'ConsumerConfig.filterSubject');
      return Object.freeze({ ...info.config, filterSubject: filter });
    },

    publish(subject, data, options) {
      assertSubject(subject, 'subject');
      if (!isBytes(data)) throw new EnablementError('PL-400', 'data: expected a Uint8Array');
      // msgId and headers (names, values, reserved prefixes, counts), with an empty payload so
      // nothing is copied; the message size is the server's to enforce.
      publishes.publishSync(PROBE_SUBJECT, EMPTY, options);
    },

    async close() {
      await configs.close();
      await publishes.close();
    },
  };
}
