import { bytesToUtf8, isBytes, utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import type { EventBus, PublishAck, PublishOptions } from './types.js';

/**
 * UTF-8 JSON bytes of `value`, for a message payload. `PL-400` when `value` has no JSON form
 * (`undefined`, a function, a `bigint`, a cycle): encode 64-bit integers as decimal strings first,
 * as the wire contracts do (ARCHITECTURE §3).
 */
export function encodeJson(value: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new EnablementError(
      'PL-400',
      'payload has no JSON form (a bigint or a cycle?); encode int64 values as decimal strings',
      { cause },
    );
  }
  if (text === undefined) throw new EnablementError('PL-400', 'payload has no JSON form');
  return utf8ToBytes(text);
}

/**
 * Parses a JSON payload; `PL-400` when it is not UTF-8 JSON. The result is untrusted input:
 * validate it (for example with a wire codec) before use.
 */
export function decodeJson(data: Uint8Array): unknown {
  if (!isBytes(data)) throw new EnablementError('PL-400', 'data: expected a Uint8Array');
  const text = bytesToUtf8(data);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new EnablementError('PL-400', 'payload is not valid JSON', { cause });
  }
}

/** `bus.publish(subject, encodeJson(value), options)`. */
export function publishJson(
  bus: Pick<EventBus, 'publish'>,
  subject: string,
  value: unknown,
  options?: PublishOptions,
): Promise<PublishAck> {
  let data: Uint8Array;
  try {
    data = encodeJson(value);
  } catch (error) {
    return Promise.reject(error);
  }
  return bus.publish(subject, data, options);
}
