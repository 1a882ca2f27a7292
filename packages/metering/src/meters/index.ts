/**
 * Meters: which usage events count, how they aggregate (sum, count, max, unique count, latest)
 * and how they split into groups; the default meters of the Runtime event types (spec §4.1).
 * @module
 */
export {
  DEFAULT_METERS,
  MAX_GROUP_VALUE_LENGTH,
  MAX_METER_DIMENSIONS,
  METER_AGGREGATIONS,
  type MeterFieldKind,
  measure,
  RUNTIME_EVENT_FIELDS,
  readPath,
  runtimeUsageRecord,
  validateMeter,
} from './meters.js';
export {
  type Measurement,
  type Meter,
  MISSING_GROUP_VALUE,
  type UsageRecord,
  type UsageValue,
  type UsageWindow,
} from './types.js';
