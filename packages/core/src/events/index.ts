/**
 * Events: the `EventBus` port with NATS JetStream semantics, its in-process implementation, a
 * buffering publisher for bus outages, subjects and the dead-letter format (ARCHITECTURE §5,
 * spec §4.1, docs/events.md).
 * @module
 */
export {
  type BufferedEvent,
  type BufferedPublishResult,
  type BufferingPublisher,
  type BufferingPublisherCloseOptions,
  type BufferingPublisherOptions,
  type BufferingPublisherStats,
  createBufferingPublisher,
  DEFAULT_BUFFER_INITIAL_DELAY_MS,
  DEFAULT_BUFFER_MAX_DELAY_MS,
  DEFAULT_MAX_BUFFERED_EVENTS,
} from './buffering-publisher.js';
export {
  DEFAULT_CONSUMER_SETTINGS,
  DEFAULT_STREAM_LIMITS,
  EVENT_BUS_LIMITS,
  RESERVED_HEADER_PREFIXES,
} from './config.js';
export {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_PREFIX,
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECTS,
  type DeadLetterInfo,
  type DeliveryFailure,
  deadLetterHeaders,
  deadLetterMsgId,
  deadLetterSubject,
  MAX_DEAD_LETTER_REASONS,
  parseDeadLetter,
} from './dead-letter.js';
export {
  createInProcessEventBus,
  DEFAULT_DELIVERY_BATCH,
  DEFAULT_MAX_CONSUMERS_PER_STREAM,
  DEFAULT_MAX_DUPLICATE_IDS,
  DEFAULT_MAX_STREAMS,
  type DeadLetterStreamOptions,
  type InProcessEventBus,
  type InProcessEventBusOptions,
} from './in-process.js';
export { decodeJson, encodeJson, publishJson } from './json.js';
export {
  assertFilter,
  assertSubject,
  filterContains,
  filtersOverlap,
  isValidFilter,
  isValidSubject,
  MAX_SUBJECT_LENGTH,
  MAX_SUBJECT_TOKENS,
  SINGLE_WILDCARD,
  subjectMatches,
  TAIL_WILDCARD,
} from './subject.js';
export type {
  ConsumerConfig,
  ConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  EventBus,
  EventHeaders,
  EventMessage,
  MessageHandler,
  PublishAck,
  PublishOptions,
  ResolvedConsumerConfig,
  ResolvedStreamConfig,
  RetentionPolicy,
  StreamConfig,
  StreamInfo,
  Subscription,
} from './types.js';
export { MAX_NAK_REASON_LENGTH } from './types.js';
