/**
 * Quotas: limits per subscription or agent, meter and period, with overflow actions, thresholds
 * and the allocation-free synchronous check (spec §4.5, §7.3).
 * @module
 */
export {
  createQuotaBook,
  QUOTA_CHECK_RESULTS,
  type QuotaBook,
  type QuotaBookOptions,
  type QuotaCrossing,
} from './book.js';
export type { Quota, QuotaIncrease, QuotaStatus } from './types.js';
