/**
 * The products of the Enablement layer plus the shared platform (spec §3.3 `ProductId`, §8.1).
 *
 * The wire form is the lowercase name, as in the structured logs of spec §10.3.
 */
export type ProductId = 'runtime' | 'metering' | 'oversight' | 'messaging' | 'platform';

/** Every {@link ProductId}, in the order of spec §8.1. */
export const PRODUCT_IDS: readonly ProductId[] = Object.freeze([
  'runtime',
  'metering',
  'oversight',
  'messaging',
  'platform',
]);

/** Error-code prefix of each product (spec §8.1). */
export const PRODUCT_PREFIX: Readonly<Record<ProductId, string>> = Object.freeze({
  runtime: 'RT',
  metering: 'MT',
  oversight: 'OV',
  messaging: 'MS',
  platform: 'PL',
});
