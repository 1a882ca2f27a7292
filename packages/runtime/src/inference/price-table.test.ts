import { Decimal, UINT64_MAX } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPriceTable, MAX_PRICE_SCALE } from './price-table.js';

/** A price as independent parts: integer digits and fraction digits, and its text. */
const priceArb = fc
  .tuple(
    fc.bigInt({ min: 0n, max: 10n ** 11n }),
    fc.integer({ min: 0, max: 12 }),
    fc.bigInt({ min: 0n, max: 10n ** 12n }),
  )
  .map(([whole, scale, frac]) => {
    const fraction = scale === 0 ? '' : (frac % 10n ** BigInt(scale)).toString().padStart(scale, '0');
    const text = scale === 0 ? whole.toString() : `${whole}.${fraction}`;
    return { text, coefficient: BigInt(text.replace('.', '')), scale };
  });

const tokensArb = fc.bigInt({ min: 0n, max: UINT64_MAX });

/** `(in × pin + out × pout) / 10^6` as a reduced fraction `n / 10^k`, computed with BigInt only. */
function expectedCost(
  input: bigint,
  output: bigint,
  pin: { coefficient: bigint; scale: number },
  pout: { coefficient: bigint; scale: number },
): { n: bigint; k: number } {
  const k = Math.max(pin.scale, pout.scale);
  const n =
    input * pin.coefficient * 10n ** BigInt(k - pin.scale) +
    output * pout.coefficient * 10n ** BigInt(k - pout.scale);
  return { n, k: k + 6 };
}

describe('createPriceTable: exact cost', () => {
  it('cost = (in × pin + out × pout) / 1e6 exactly, for any prices and token counts (property)', () => {
    fc.assert(
      fc.property(priceArb, priceArb, tokensArb, tokensArb, (pin, pout, input, output) => {
        const table = createPriceTable([
          { provider: 'p', model: 'm', inputPerMillion: pin.text, outputPerMillion: pout.text },
        ]);
        const cost = table.cost('p', 'm', input, output);
        const { n, k } = expectedCost(input, output, pin, pout);
        // Cross-multiplied equality: cost.coefficient / 10^cost.scale === n / 10^k.
        expect(cost.coefficient * 10n ** BigInt(k)).toBe(n * 10n ** BigInt(cost.scale));
        // Normalized: no trailing fraction zeros.
        expect(cost.scale === 0 || cost.coefficient % 10n !== 0n).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the worked examples digit for digit', () => {
    const table = createPriceTable([
      { provider: 'anthropic', model: 'claude-sonnet-*', inputPerMillion: '3', outputPerMillion: '15' },
      { provider: 'openai', model: 'gpt-4o-mini', inputPerMillion: '0.15', outputPerMillion: '0.60' },
    ]);
    expect(table.cost('anthropic', 'claude-sonnet-4-5', 1200n, 350n).toString()).toBe('0.00885');
    expect(table.cost('openai', 'gpt-4o-mini', 1n, 0n).toString()).toBe('0.00000015');
    expect(table.cost('openai', 'gpt-4o-mini', 0n, 0n).toString()).toBe('0');
    expect(table.cost('openai', 'gpt-4o-mini', 1_000_000n, 1_000_000n).toString()).toBe('0.75');
  });

  it('stays exact at the bounds: u64 token counts and the largest price with the finest scale', () => {
    const finest = `0.${'0'.repeat(MAX_PRICE_SCALE - 1)}1`;
    const largest = `999999999999.${'9'.repeat(MAX_PRICE_SCALE)}`;
    const table = createPriceTable([
      { provider: 'p', model: 'm', inputPerMillion: largest, outputPerMillion: finest },
    ]);
    const cost = table.cost('p', 'm', UINT64_MAX, UINT64_MAX);
    const pin = Decimal.parse(largest);
    const expected = pin.mul(UINT64_MAX).add(Decimal.parse(finest).mul(UINT64_MAX));
    expect(cost.mul(1_000_000n).eq(expected)).toBe(true);
  });

  it('accepts Decimal prices as well as strings', () => {
    const table = createPriceTable([
      { provider: 'p', model: 'm', inputPerMillion: Decimal.parse('2.5'), outputPerMillion: '10' },
    ]);
    expect(table.cost('p', 'm', 2n, 1n).toString()).toBe('0.000015');
  });
});

describe('createPriceTable: lookup', () => {
  const table = createPriceTable([
    { provider: 'anthropic', model: 'claude-*', inputPerMillion: '1', outputPerMillion: '1' },
    { provider: 'anthropic', model: 'claude-opus-*', inputPerMillion: '15', outputPerMillion: '75' },
    { provider: 'anthropic', model: 'claude-opus-4-1', inputPerMillion: '20', outputPerMillion: '80' },
    { provider: 'openai', model: '*', inputPerMillion: '5', outputPerMillion: '5' },
    { provider: '*', model: 'shared-model', inputPerMillion: '7', outputPerMillion: '7' },
  ]);
  const inputPrice = (provider: string, model: string) =>
    table.price?.(provider, model)?.inputPerMillion.toString();

  it('prefers the exact id, then the longest prefix, then the provider default, then provider `*`', () => {
    expect(inputPrice('anthropic', 'claude-opus-4-1')).toBe('20');
    expect(inputPrice('anthropic', 'claude-opus-4-0')).toBe('15');
    expect(inputPrice('anthropic', 'claude-haiku-3')).toBe('1');
    expect(inputPrice('openai', 'anything-at-all')).toBe('5');
    expect(inputPrice('openai', 'shared-model')).toBe('5');
    expect(inputPrice('mistral', 'shared-model')).toBe('7');
  });

  it('never prices a model no entry covers: cost throws RT-400 instead of returning zero', () => {
    expect(table.price?.('anthropic', 'gpt-4o')).toBeUndefined();
    expectEnablementError(
      () => table.cost('anthropic', 'gpt-4o', 10n, 10n),
      'RT-400',
      'no price for model "gpt-4o"',
    );
    expectEnablementError(() => table.cost('mistral', 'large', 0n, 0n), 'RT-400', 'provider "mistral"');
  });

  it('prices everything through an explicit catch-all entry', () => {
    const withDefault = createPriceTable([
      { provider: '*', model: '*', inputPerMillion: '0', outputPerMillion: '0' },
    ]);
    expect(withDefault.cost('any', 'model', 5n, 5n).isZero()).toBe(true);
  });

  it('rejects token counts that are not u64 bigints with RT-400', () => {
    expectEnablementError(() => table.cost('openai', 'x', -1n, 0n), 'RT-400', 'inputTokens');
    expectEnablementError(() => table.cost('openai', 'x', 0n, UINT64_MAX + 1n), 'RT-400', 'outputTokens');
    expectEnablementError(
      () => table.cost('openai', 'x', 5 as unknown as bigint, 0n),
      'RT-400',
      'inputTokens',
    );
  });
});

describe('createPriceTable: entry validation', () => {
  const entry = { provider: 'p', model: 'm', inputPerMillion: '1', outputPerMillion: '1' };
  it.each([
    [{ ...entry, inputPerMillion: 0.5 as unknown as string }, 'inputPerMillion'],
    [{ ...entry, inputPerMillion: '-1' }, 'negative'],
    [{ ...entry, outputPerMillion: '1e3' }, 'outputPerMillion'],
    [{ ...entry, outputPerMillion: `0.${'1'.repeat(MAX_PRICE_SCALE + 1)}` }, 'fraction digits'],
    [{ ...entry, inputPerMillion: '1000000000000' }, 'below'],
    [{ ...entry, model: 'a*b' }, 'model'],
    [{ ...entry, model: 'has space' }, 'model'],
    [{ ...entry, provider: 'p*' }, 'provider'],
    [{ ...entry, extra: true }, 'extra'],
  ])('refuses %o with PL-400', (bad, field) => {
    expectEnablementError(() => createPriceTable([bad as typeof entry]), 'PL-400', field);
  });

  it('refuses the same (provider, model) twice, but allows it for two providers', () => {
    expectEnablementError(
      () => createPriceTable([entry, { ...entry, inputPerMillion: '2' }]),
      'PL-400',
      'twice',
    );
    expect(() => createPriceTable([entry, { ...entry, provider: 'q' }])).not.toThrow();
  });

  it('refuses something that is not an array', () => {
    expectEnablementError(() => createPriceTable({} as never), 'PL-400', 'createPriceTable');
  });
});
