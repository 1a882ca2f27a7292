import {
  type Attributes,
  type Context,
  context,
  createTraceState,
  isSpanContextValid,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { EnablementError } from '../errors/enablement-error.js';
import { INSTRUMENTATION_SCOPE } from './metrics.js';
import { TRACE_ATTRIBUTES } from './names.js';

/**
 * A trace context in its W3C Trace Context carrier form: the `traceparent` header value and an
 * optional `tracestate`. Plain JSON, so it can travel in event headers and be kept in a durable
 * saga log, unlike an OpenTelemetry `Context`.
 */
export interface TraceContext {
  /** `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>` (W3C Trace Context §3.2). */
  readonly traceparent: string;
  /** Vendor-specific state (W3C Trace Context §3.3); omitted when empty. */
  readonly tracestate?: string;
}

/** Longest `tracestate` kept; W3C Trace Context §3.3.1.5 asks propagators to keep at least 512. */
export const MAX_TRACESTATE_LENGTH = 512;

// §3.2: version 2 hex (not ff), trace-id 32 hex, parent-id 16 hex, flags 2 hex; lowercase only.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const TRACESTATE_CHARS = /^[\x20-\x7e]*$/;

/**
 * Parses a `traceparent` header value (W3C Trace Context §3.2) into a remote span context, or
 * returns `undefined` when it is invalid, since §3.2 says a receiver then ignores the header and starts
 * a new trace. Version `00` must be exactly 55 characters; a later version may carry more
 * fields after a `-` (§4.3); version `ff`, an all-zero trace id or parent id are invalid.
 */
export function parseTraceparent(text: unknown): SpanContext | undefined {
  if (typeof text !== 'string' || text.length > 512) return undefined;
  const match = TRACEPARENT.exec(text);
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === undefined || traceId === undefined || spanId === undefined || flags === undefined) {
    return undefined;
  }
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const spanContext: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** The `traceparent` header value (version `00`) of a span context. */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * The {@link TraceContext} of the span active in `ctx` (the current context by default), or
 * `undefined` when there is no valid span (no SDK registered and no remote parent).
 */
export function traceContextOf(ctx: Context = context.active()): TraceContext | undefined {
  const spanContext = trace.getSpanContext(ctx);
  if (!spanContext || !isSpanContextValid(spanContext)) return undefined;
  const tracestate = spanContext.traceState?.serialize();
  return tracestate
    ? { traceparent: formatTraceparent(spanContext), tracestate }
    : { traceparent: formatTraceparent(spanContext) };
}

/**
 * Throws `PL-400`, naming `field`, unless `value` is a {@link TraceContext} with a valid
 * `traceparent` and, if present, a printable-ASCII `tracestate` of at most
 * {@link MAX_TRACESTATE_LENGTH} characters. For trace contexts handed to the SDK by code; headers
 * from the network should go through the lenient {@link parseTraceparent}.
 */
export function assertTraceContext(value: unknown, field = 'traceContext'): asserts value is TraceContext {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EnablementError('PL-400', `${field}: expected { traceparent, tracestate? }`);
  }
  const { traceparent, tracestate } = value as Record<string, unknown>;
  if (parseTraceparent(traceparent) === undefined) {
    throw new EnablementError('PL-400', `${field}.traceparent: not a valid W3C traceparent`);
  }
  if (
    tracestate !== undefined &&
    (typeof tracestate !== 'string' ||
      tracestate.length > MAX_TRACESTATE_LENGTH ||
      !TRACESTATE_CHARS.test(tracestate))
  ) {
    throw new EnablementError(
      'PL-400',
      `${field}.tracestate: expected printable ASCII of at most ${MAX_TRACESTATE_LENGTH} characters`,
    );
  }
}

/**
 * `base` (the current context by default) with the remote span context of `traceContext` as
 * parent, so spans started in it join the caller's trace. Throws `PL-400` for an invalid carrier.
 */
export function contextFromTraceContext(
  traceContext: TraceContext,
  base: Context = context.active(),
): Context {
  assertTraceContext(traceContext);
  const parsed = parseTraceparent(traceContext.traceparent) as SpanContext;
  const spanContext: SpanContext = traceContext.tracestate
    ? { ...parsed, traceState: createTraceState(traceContext.tracestate) }
    : parsed;
  return trace.setSpanContext(base, spanContext);
}

/** Trace id (32 hex) of the span active in `ctx`, or `undefined` when there is no valid span. */
export function currentTraceId(ctx: Context = context.active()): string | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** Span id (16 hex) of the span active in `ctx`, or `undefined` when there is no valid span. */
export function currentSpanId(ctx: Context = context.active()): string | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && isSpanContextValid(spanContext) ? spanContext.spanId : undefined;
}

/**
 * `error` with a `traceId`, for correlation across products (spec §8.2 `trace_id`).
 *
 * An `EnablementError` without a trace id is copied (same code, message, product, cause,
 * retry hints and stack) with `traceId` set; `EnablementError`s are immutable, and one instance
 * may be shared by several traces. Anything else, an error that already has a trace id, or no
 * trace id to give, returns `error` itself.
 *
 * @param traceId - defaults to {@link currentTraceId}
 */
export function withTraceId<E>(error: E, traceId: string | undefined = currentTraceId()): E {
  if (!EnablementError.is(error) || error.traceId !== undefined || traceId === undefined) return error;
  const copy = new EnablementError(error.code, error.message, {
    cause: error.causedBy ?? error.cause,
    retryable: error.retryable,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    product: error.product,
    traceId,
  });
  if (error.stack !== undefined) copy.stack = error.stack;
  return copy as E;
}

/**
 * Marks `span` as failed by `error`: status `ERROR`, an `exception` event, `error.type`, and for
 * an `EnablementError` its code, product and retryability as `enablement.error.*` attributes.
 */
export function recordSpanError(span: Span, error: unknown): void {
  if (EnablementError.is(error)) {
    span.setAttributes({
      [TRACE_ATTRIBUTES.errorType]: error.code,
      [TRACE_ATTRIBUTES.errorCode]: error.code,
      [TRACE_ATTRIBUTES.errorProduct]: error.product,
      [TRACE_ATTRIBUTES.errorRetryable]: error.retryable,
    });
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${error.code}: ${error.message}` });
    return;
  }
  if (error instanceof Error) {
    span.setAttribute(TRACE_ATTRIBUTES.errorType, error.name);
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    return;
  }
  span.setAttribute(TRACE_ATTRIBUTES.errorType, typeof error);
  span.recordException(String(error));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** Options of {@link withSpan} and {@link withSpanSync}. */
export interface WithSpanOptions {
  /** Tracer to use; by default the global tracer of the {@link INSTRUMENTATION_SCOPE}. */
  readonly tracer?: Tracer;
  /** Span kind (internal by default). */
  readonly kind?: SpanKind;
  /** Parent context; the active context by default. */
  readonly parent?: Context;
  /** Links to related spans (e.g. the trace that enqueued a message). */
  readonly links?: Link[];
}

function startOptions(attributes: Attributes, options: WithSpanOptions) {
  return {
    attributes,
    ...(options.kind === undefined ? {} : { kind: options.kind }),
    ...(options.links === undefined ? {} : { links: options.links }),
  };
}

// Looked up per call: the global provider may be registered (or replaced) after this module loads.
const tracerOf = (options: WithSpanOptions): Tracer =>
  options.tracer ?? trace.getTracer(INSTRUMENTATION_SCOPE);

function failed(span: Span, error: unknown): unknown {
  recordSpanError(span, error);
  const spanContext = span.spanContext();
  return withTraceId(error, isSpanContextValid(spanContext) ? spanContext.traceId : undefined);
}

/**
 * Runs `fn` inside a new active span named `name`, ending the span when `fn` settles.
 *
 * A failure is recorded on the span ({@link recordSpanError}) and rethrown; an `EnablementError`
 * without a trace id is rethrown as a copy that carries the span's trace id
 * ({@link withTraceId}), but only when a real trace exists, so with no SDK registered the original
 * instance is rethrown. Through `@opentelemetry/api` only: without a registered SDK the span is a
 * no-op.
 *
 * @example
 * ```ts
 * const handle = await withSpan(SPAN_NAMES.runtimeSpawnSandbox,
 *   { [TRACE_ATTRIBUTES.runtimeAgentNhi]: agent.nhi }, async (span) => {
 *     const h = await driver.spawn(spec);
 *     span.setAttribute(TRACE_ATTRIBUTES.runtimeSandboxId, h.id);
 *     return h;
 *   });
 * ```
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  options: WithSpanOptions = {},
): Promise<T> {
  return tracerOf(options).startActiveSpan(
    name,
    startOptions(attributes, options),
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        throw failed(span, error);
      } finally {
        span.end();
      }
    },
  );
}

/** The synchronous twin of {@link withSpan}, for hot paths that have no room for a promise. */
export function withSpanSync<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => T,
  options: WithSpanOptions = {},
): T {
  return tracerOf(options).startActiveSpan(
    name,
    startOptions(attributes, options),
    options.parent ?? context.active(),
    (span) => {
      try {
        return fn(span);
      } catch (error) {
        throw failed(span, error);
      } finally {
        span.end();
      }
    },
  );
}
