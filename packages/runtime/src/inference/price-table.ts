import { DECIMAL_MAX_SCALE, Decimal, EnablementError, parseOptions, UINT64_MAX } from '@creto/core';
import { z } from 'zod';
import {
  createPatternMatcher,
  isModelId,
  isModelPattern,
  MAX_MODEL_PATTERNS,
  type PatternMatcher,
} from './patterns.js';
import type { ModelPrice, PriceEntry, PriceTable } from './types.js';

/**
 * Most fraction digits of a price. A cost divides by 10^6 exactly (it shifts the scale by 6), so a
 * price may use at most `DECIMAL_MAX_SCALE - 6` digits and every cost stays exact.
 */
export const MAX_PRICE_SCALE = DECIMAL_MAX_SCALE - 6;

/**
 * Prices must be below this many USD per million tokens. With the scale bound and token counts
 * below 2^64, every cost then fits a `Decimal` exactly (at most 64 significant digits).
 */
export const MAX_PRICE_PER_MILLION = Decimal.parse('1000000000000');

/** Most entries of one price table. */
export const MAX_PRICE_ENTRIES = MAX_MODEL_PATTERNS;

/** The provider name of an entry that applies to every provider. */
export const ANY_PROVIDER = '*';

const priceSchema = z.union([
  z.string().max(100, { abort: true }),
  z.custom<Decimal>((value) => Decimal.isDecimal(value), { error: 'expected a Decimal or a decimal string' }),
]);

const entriesSchema = z
  .array(
    z.strictObject({
      provider: z.string().refine((p) => p === ANY_PROVIDER || isModelId(p), {
        error: 'expected a provider name (visible ASCII, no `*`) or `*`',
      }),
      model: z.string().refine(isModelPattern, {
        error: 'expected a model id, a prefix pattern ending in `*`, or `*`',
      }),
      inputPerMillion: priceSchema,
      outputPerMillion: priceSchema,
    }),
  )
  .max(MAX_PRICE_ENTRIES);

function toPrice(value: Decimal | string, field: string): Decimal {
  const price = Decimal.from(value, field);
  if (price.isNegative()) throw new EnablementError('PL-400', `${field}: a price cannot be negative`);
  if (price.scale > MAX_PRICE_SCALE) {
    throw new EnablementError('PL-400', `${field}: at most ${MAX_PRICE_SCALE} fraction digits`);
  }
  if (price.gte(MAX_PRICE_PER_MILLION)) {
    throw new EnablementError(
      'PL-400',
      `${field}: must be below ${MAX_PRICE_PER_MILLION} USD per million tokens`,
    );
  }
  return price;
}

/** Quotes at most 64 characters of caller text for an error message. */
function quote(text: unknown): string {
  const s = typeof text === 'string' ? text : String(text);
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

function checkTokens(value: unknown, field: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) {
    throw new EnablementError('RT-400', `${field}: expected a bigint from 0 to 2^64 - 1`);
  }
  return value;
}

/**
 * Exact cost: `(inputTokens × inputPerMillion + outputTokens × outputPerMillion) / 10^6`, computed
 * on bigint coefficients (the division by 10^6 is a scale shift, so nothing is rounded), then
 * normalized (trailing zeros dropped).
 */
export function costOf(price: ModelPrice, inputTokens: bigint, outputTokens: bigint): Decimal {
  const { inputPerMillion: pin, outputPerMillion: pout } = price;
  const scale = Math.max(pin.scale, pout.scale);
  const coefficient =
    inputTokens * pin.coefficient * 10n ** BigInt(scale - pin.scale) +
    outputTokens * pout.coefficient * 10n ** BigInt(scale - pout.scale);
  return Decimal.fromParts(coefficient, scale + 6).normalize();
}

/**
 * Builds a {@link PriceTable} from entries in USD per million tokens.
 *
 * Lookup for a provider's model: that provider's entries first (exact id, then the longest
 * prefix pattern, then its `*`), then the entries of provider `*` in the same order. A model no
 * entry covers has **no** price, and {@link PriceTable.cost} throws `RT-400`: unpriced usage must
 * not be free by accident. For a deliberate default, add `{ provider: '*', model: '*', … }`.
 *
 * Prices are exact (`Decimal` or decimal strings; a `number` is refused), non-negative, with at
 * most {@link MAX_PRICE_SCALE} fraction digits and below {@link MAX_PRICE_PER_MILLION}. An
 * invalid entry, or one (provider, model) pair listed twice, throws `PL-400` naming the entry.
 *
 * @example
 * ```ts
 * const prices = createPriceTable([
 *   { provider: 'anthropic', model: 'claude-sonnet-*', inputPerMillion: '3', outputPerMillion: '15' },
 * ]);
 * prices.cost('anthropic', 'claude-sonnet-4-5', 1200n, 350n).toString(); // '0.00885'
 * ```
 */
export function createPriceTable(entries: readonly PriceEntry[]): PriceTable {
  const parsed = parseOptions(entriesSchema, entries, 'createPriceTable');
  const byProvider = new Map<string, [string, ModelPrice][]>();
  parsed.forEach((entry, i) => {
    const price: ModelPrice = Object.freeze({
      provider: entry.provider,
      model: entry.model,
      inputPerMillion: toPrice(entry.inputPerMillion, `createPriceTable: [${i}].inputPerMillion`),
      outputPerMillion: toPrice(entry.outputPerMillion, `createPriceTable: [${i}].outputPerMillion`),
    });
    const list = byProvider.get(entry.provider) ?? [];
    list.push([entry.model, price]);
    byProvider.set(entry.provider, list);
  });
  const matchers = new Map<string, PatternMatcher<ModelPrice>>();
  for (const [provider, list] of byProvider) {
    matchers.set(provider, createPatternMatcher(list, `createPriceTable: provider ${quote(provider)}`));
  }
  const anyProvider = matchers.get(ANY_PROVIDER);

  const price = (provider: string, model: string): ModelPrice | undefined => {
    if (typeof provider !== 'string' || typeof model !== 'string') return undefined;
    return matchers.get(provider)?.match(model) ?? anyProvider?.match(model);
  };

  return Object.freeze({
    price,
    cost(provider: string, model: string, inputTokens: bigint, outputTokens: bigint): Decimal {
      const found = price(provider, model);
      if (found === undefined) {
        throw new EnablementError(
          'RT-400',
          `no price for model ${quote(model)} of provider ${quote(provider)}: add a price-table entry ` +
            `(an explicit default { provider: '*', model: '*' } prices every other model)`,
        );
      }
      return costOf(
        found,
        checkTokens(inputTokens, 'inputTokens'),
        checkTokens(outputTokens, 'outputTokens'),
      );
    },
  });
}
