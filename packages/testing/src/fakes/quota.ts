import {
  Decimal,
  type DecimalLike,
  EnablementError,
  type QuotaClient,
  type QuotaClientDecision,
  type QuotaDecisionKind,
  type QuotaQuery,
} from '@creto/core';
import { BoundedLog, DEFAULT_MAX_RECORDED, pushScripted } from './recorder.js';

/** A scripted quota answer in full. */
export interface FakeQuotaDecisionSpec {
  /** `allow`, `allow_with_notification` or `block`. */
  readonly decision: QuotaDecisionKind;
  /** Usage reported with the decision (a decimal string, a `Decimal`, or a safe integer count). */
  readonly usage?: DecimalLike | number;
  /** Limit reported with the decision (a decimal string, a `Decimal`, or a safe integer count). */
  readonly limit?: DecimalLike | number;
  /** Why, in words; default names the fake. */
  readonly reason?: string;
  /** For `block`: the hint put on the `MT-429` (default one hour, spec §8.4). */
  readonly retryAfterMs?: number;
}

/**
 * What a scripted call answers: a decision kind, a full decision, or an `EnablementError` with
 * which `checkQuota` rejects (e.g. `MT-503` to test a Metering outage).
 */
export type FakeQuotaAnswer = QuotaDecisionKind | FakeQuotaDecisionSpec | EnablementError;

/** Which calls a rule of {@link FakeQuotaClient.when} applies to (absent fields match anything). */
export interface FakeQuotaMatch {
  /** Agent NHI. */
  readonly agent?: string;
  /** Event type, e.g. `sandbox_allocated`. */
  readonly eventType?: string;
}

/** Options of {@link createFakeQuotaClient}. */
export interface FakeQuotaClientOptions {
  /** Answers consumed one per call, in order, before rules and the fallback (at most 10 000). */
  readonly script?: readonly FakeQuotaAnswer[];
  /** The answer when nothing else applies; default `allow`. */
  readonly fallback?: FakeQuotaAnswer;
  /** Most calls remembered (oldest forgotten first); default 10 000. */
  readonly maxCalls?: number;
}

/** A {@link QuotaClient} whose answers the test scripts, and which records every call. */
export interface FakeQuotaClient extends QuotaClient {
  /** Every query received, oldest first (bounded by `maxCalls`). */
  readonly calls: readonly QuotaQuery[];
  /** Appends answers to the script (consumed one per call before rules and the fallback); `PL-400` beyond `MAX_SCRIPTED` (10 000) waiting. */
  enqueue(...answers: FakeQuotaAnswer[]): void;
  /** A standing answer for matching calls; later rules win over earlier ones (at most `MAX_SCRIPTED` (10 000)). */
  when(match: FakeQuotaMatch, answer: FakeQuotaAnswer): void;
  /** Replaces the fallback answer. */
  setFallback(answer: FakeQuotaAnswer): void;
  /** Forgets calls, script and rules (the fallback stays). */
  reset(): void;
}

const DEFAULT_RETRY_AFTER_MS = 3_600_000;

// Quotas count events, so whole numbers are welcome here; fractions must be decimal strings.
function amount(value: DecimalLike | number | undefined, field: string): Decimal | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return Decimal.parse(String(value), field);
  return Decimal.from(value as DecimalLike, field);
}

function decide(answer: FakeQuotaAnswer, query: QuotaQuery): QuotaClientDecision {
  if (answer instanceof EnablementError) throw answer;
  const spec: FakeQuotaDecisionSpec = typeof answer === 'string' ? { decision: answer } : answer;
  const usage = amount(spec.usage, 'usage');
  const limit = amount(spec.limit, 'limit');
  const reason = spec.reason ?? `fake quota: ${spec.decision}`;
  const base = {
    decision: spec.decision,
    reason,
    ...(usage === undefined ? {} : { usage }),
    ...(limit === undefined ? {} : { limit }),
  };
  if (spec.decision !== 'block') return Object.freeze(base);
  // The port carries the Metering error on a block so Runtime can chain it (spec §8.2).
  const counts = usage !== undefined && limit !== undefined ? ` (${usage}/${limit})` : '';
  const error = new EnablementError('MT-429', `${query.eventType} quota exceeded${counts}`, {
    retryAfterMs: spec.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS,
  });
  return Object.freeze({ ...base, error });
}

/**
 * A fake of core's `QuotaClient` port (what Runtime asks before spawning and inference): answers
 * come from a script consumed in order, then from standing rules, then from the fallback
 * (`allow`). A `block` answer carries an `MT-429` in `error`, as Metering's does, so the code
 * under test can chain it (`RT-429` caused by `MT-429`, spec §8.2).
 *
 * @example
 * ```ts
 * const quota = createFakeQuotaClient();
 * quota.when({ eventType: 'sandbox_allocated' }, { decision: 'block', usage: 100, limit: 100 });
 * const runtime = createRuntime({ platform, hostKey, quota });
 * await expectEnablementRejection(runtime.spawnSandbox({ agent }), 'RT-429');
 * expect(quota.calls[0]?.eventType).toBe('sandbox_allocated');
 * ```
 */
export function createFakeQuotaClient(options: FakeQuotaClientOptions = {}): FakeQuotaClient {
  const calls = new BoundedLog<QuotaQuery>(options.maxCalls ?? DEFAULT_MAX_RECORDED, 'maxCalls');
  const script: FakeQuotaAnswer[] = [];
  pushScripted(script, options.script ?? [], 'script');
  const rules: { match: FakeQuotaMatch; answer: FakeQuotaAnswer }[] = [];
  let fallback: FakeQuotaAnswer = options.fallback ?? 'allow';
  return {
    get calls() {
      return calls.toArray();
    },
    async checkQuota(query: QuotaQuery): Promise<QuotaClientDecision> {
      if (typeof query !== 'object' || query === null || typeof query.agent !== 'string') {
        throw new EnablementError('MT-400', 'checkQuota: query.agent must be an NHI string');
      }
      if (typeof query.eventType !== 'string' || query.eventType.length === 0) {
        throw new EnablementError('MT-400', 'checkQuota: query.eventType must be a non-empty string');
      }
      calls.push(Object.freeze({ ...query }));
      const scripted = script.shift();
      if (scripted !== undefined) return decide(scripted, query);
      for (let i = rules.length - 1; i >= 0; i--) {
        const rule = rules[i];
        if (rule === undefined) continue;
        const { agent, eventType } = rule.match;
        if (
          (agent === undefined || agent === query.agent) &&
          (eventType === undefined || eventType === query.eventType)
        ) {
          return decide(rule.answer, query);
        }
      }
      return decide(fallback, query);
    },
    enqueue(...answers: FakeQuotaAnswer[]) {
      pushScripted(script, answers, 'enqueue');
    },
    when(match: FakeQuotaMatch, answer: FakeQuotaAnswer) {
      pushScripted(rules, [{ match: { ...match }, answer }], 'when');
    },
    setFallback(answer: FakeQuotaAnswer) {
      fallback = answer;
    },
    reset() {
      calls.clear();
      script.length = 0;
      rules.length = 0;
    },
  };
}
