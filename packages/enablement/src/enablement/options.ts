import { EnablementError, isClock, isCryptoProvider, type Platform, type PlatformOptions } from '@creto/core';
import { assertSeed } from './keys.js';
import { assertHostPolicies } from './policies.js';
import type { EnablementOptions, EnablementWebhook } from './types.js';

const FACTORY = 'createEnablement';

/** Options of each product that the layer sets itself (passing one is `PL-400`). */
export const RESERVED_PRODUCT_OPTIONS = Object.freeze({
  runtime: Object.freeze(['hostKey', 'platform', 'quota', 'oversight', 'usage'] as const),
  metering: Object.freeze(['nhi', 'bus', 'oversight', 'notifier', 'store'] as const),
  oversight: Object.freeze(['nhi', 'serviceKey', 'notifier', 'store'] as const),
});

/** Where each reserved option comes from instead, for the error message. */
const INSTEAD: Readonly<Record<string, string>> = Object.freeze({
  hostKey: 'keys.runtimeHost',
  serviceKey: 'keys.oversightService',
  platform: 'platform',
  nhi: 'platform',
  bus: 'bus',
  store: 'stores',
  quota: 'the layer (Metering)',
  oversight: 'the layer (Oversight)',
  usage: 'the layer (the bus usage sink)',
  notifier: 'the layer (webhooks, onNotification)',
});

const TOP_LEVEL = new Set([
  'clock',
  'provider',
  'platform',
  'bus',
  'stores',
  'keys',
  'seed',
  'policies',
  'runtime',
  'metering',
  'oversight',
  'webhooks',
  'logger',
  'onNotification',
]);

const STORES = new Set([
  'metering',
  'oversight',
  'idempotency',
  'sagaLog',
  'messagingSessions',
  'relayQueues',
  'audit',
]);

function invalid(path: string, why: string): EnablementError {
  return new EnablementError('PL-400', `invalid ${FACTORY} options: ${path}: ${why}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasMethods(value: unknown, methods: readonly string[]): boolean {
  return isObject(value) && methods.every((m) => typeof value[m] === 'function');
}

function port(value: unknown, path: string, what: string, methods: readonly string[]): void {
  if (value !== undefined && !hasMethods(value, methods)) {
    throw invalid(path, `expected ${what} (with ${methods.join(', ')})`);
  }
}

/** True when `value` is a built `Platform` rather than `PlatformOptions`. @internal */
export function isPlatform(value: Platform | PlatformOptions | undefined): value is Platform {
  return (
    isObject(value) &&
    typeof (value as Partial<Platform>).dispose === 'function' &&
    hasMethods((value as Partial<Platform>).nhi, ['register', 'lookup']) &&
    hasMethods((value as Partial<Platform>).authz, ['evaluate', 'setPolicies'])
  );
}

function checkWebhooks(value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw invalid('webhooks', 'expected an array');
  value.forEach((entry: unknown, i) => {
    const at = `webhooks[${i}]`;
    if (!isObject(entry)) throw invalid(at, 'expected { recipientPrefix, url, secret }');
    const hook = entry as Partial<EnablementWebhook>;
    if (
      typeof hook.recipientPrefix !== 'string' ||
      hook.recipientPrefix.length < 1 ||
      hook.recipientPrefix.length > 256
    ) {
      throw invalid(`${at}.recipientPrefix`, 'expected a string of 1 to 256 characters');
    }
    // The URL and secret are checked by the webhook notifier, whose messages never echo them.
    if (typeof hook.url !== 'string') throw invalid(`${at}.url`, 'expected a URL string');
    if (typeof hook.secret !== 'string') throw invalid(`${at}.secret`, 'expected a whsec_ secret string');
  });
}

function checkProductOptions(name: keyof typeof RESERVED_PRODUCT_OPTIONS, value: unknown): void {
  if (value === undefined) return;
  if (!isObject(value)) throw invalid(name, 'expected an object');
  for (const key of RESERVED_PRODUCT_OPTIONS[name]) {
    if (Object.hasOwn(value, key)) {
      throw invalid(`${name}.${key}`, `set by ${FACTORY}; use ${INSTEAD[key] ?? 'the layer'} instead`);
    }
  }
}

/**
 * Validates the options of `createEnablement` (ARCHITECTURE §3): `PL-400` naming the option. The
 * ports are shape-checked here; the products' own settings are validated by their factories
 * (their messages name the product's option). @internal
 */
export function validateOptions(options: unknown): EnablementOptions {
  if (options === undefined) return {};
  if (!isObject(options)) throw invalid('options', 'expected an object');
  for (const key of Object.keys(options)) {
    if (!TOP_LEVEL.has(key)) throw invalid(key, 'unknown option');
  }
  const o = options as EnablementOptions;
  if (o.clock !== undefined && !isClock(o.clock)) throw invalid('clock', 'expected a Clock');
  if (o.provider !== undefined && !isCryptoProvider(o.provider)) {
    throw invalid('provider', 'expected a CryptoProvider');
  }
  if (o.platform !== undefined && !isObject(o.platform)) {
    throw invalid('platform', 'expected a Platform (createPlatform) or platform options');
  }
  if (isPlatform(o.platform)) {
    if (o.clock !== undefined && o.clock !== o.platform.clock) {
      throw invalid('clock', 'differs from platform.clock (pass one clock)');
    }
    if (o.provider !== undefined && o.provider !== o.platform.provider) {
      throw invalid('provider', 'differs from platform.provider (pass one provider)');
    }
  }
  port(o.bus, 'bus', 'an EventBus', [
    'addStream',
    'streamInfo',
    'addConsumer',
    'consumerInfo',
    'publish',
    'subscribe',
    'close',
  ]);
  if (o.stores !== undefined) {
    if (!isObject(o.stores)) throw invalid('stores', 'expected an object');
    for (const key of Object.keys(o.stores))
      if (!STORES.has(key)) throw invalid(`stores.${key}`, 'unknown store');
    const s = o.stores;
    if (s.metering !== undefined && !isObject(s.metering))
      throw invalid('stores.metering', 'expected a MeteringStore');
    port(s.oversight, 'stores.oversight', 'an OversightStore', [
      'create',
      'get',
      'commit',
      'list',
      'listOpen',
    ]);
    port(s.idempotency, 'stores.idempotency', 'an IdempotencyStore', ['begin', 'complete']);
    port(s.sagaLog, 'stores.sagaLog', 'a SagaLog', ['append', 'loadIncomplete']);
    if (s.messagingSessions !== undefined && typeof s.messagingSessions !== 'function') {
      throw invalid('stores.messagingSessions', 'expected a function (ownerNhi) => SessionStore');
    }
    port(s.relayQueues, 'stores.relayQueues', 'a RelayQueueStore', ['load', 'put', 'remove']);
    port(s.audit, 'stores.audit', 'an AuditLogStore', [
      'size',
      'readLeaves',
      'appendLeaves',
      'saveCheckpoint',
      'latestCheckpoint',
    ]);
    if (s.audit !== undefined) {
      if (isPlatform(o.platform)) {
        throw invalid('stores.audit', 'the given platform has its audit log; open it with openAuditLog');
      }
      if (o.platform?.auditLog !== undefined) {
        throw invalid('stores.audit', 'platform.auditLog is given too (pass one audit log)');
      }
      if (o.platform?.audit?.signingKey === undefined) {
        throw invalid(
          'stores.audit',
          'needs platform.audit.signingKey: a durable log needs the same checkpoint key on every start',
        );
      }
    }
  }
  if (o.keys !== undefined && !isObject(o.keys)) throw invalid('keys', 'expected an object');
  if (o.seed !== undefined) assertSeed(o.seed, `invalid ${FACTORY} options: seed`);
  if (o.policies !== undefined) assertHostPolicies(o.policies, 'policies');
  checkProductOptions('runtime', o.runtime);
  checkProductOptions('metering', o.metering);
  checkProductOptions('oversight', o.oversight);
  checkWebhooks(o.webhooks);
  port(o.logger, 'logger', 'a Logger', ['debug', 'info', 'warn', 'error', 'child']);
  if (o.onNotification !== undefined && typeof o.onNotification !== 'function') {
    throw invalid('onNotification', 'expected a function');
  }
  return o;
}
