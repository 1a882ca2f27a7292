/**
 * Errors: the one error type, its catalogue of codes, and retry strategies (spec §8).
 * @module
 */
export {
  ERROR_CATALOGUE,
  type ErrorCode,
  type ErrorCodeInfo,
  type ErrorKind,
  errorCodeInfo,
  errorCodesOf,
  isErrorCode,
} from './catalogue.js';
export {
  EnablementError,
  type EnablementErrorJson,
  type EnablementErrorOptions,
  type WireDuration,
} from './enablement-error.js';
export { PRODUCT_IDS, PRODUCT_PREFIX, type ProductId } from './product.js';
export {
  DEFAULT_QUOTA_RETRY_AFTER_MS,
  type RetryStrategy,
  retryStrategyFor,
  TRANSIENT_BACKOFF,
} from './retry-strategy.js';
