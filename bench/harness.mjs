// The benchmark harness: measures cases, summarises samples and renders markdown.
// Benchmarks assert nothing about time; they only report it.

import os from 'node:os';

/**
 * One measured operation.
 * @typedef {object} BenchCase
 * @property {string} name Operation label; cases sharing a name are compared across variants.
 * @property {string} [variant] Implementation label, e.g. `noble` or `node`.
 * @property {() => unknown} fn The operation. It may return a promise (awaited, which adds overhead).
 */

/**
 * A group of cases rendered as one markdown section.
 * @typedef {object} BenchSuite
 * @property {string} id Stable id: the filter matches it and it names `docs/benchmarks/<id>.md`.
 * @property {string} title Section heading.
 * @property {string} [description] Markdown paragraph under the heading.
 * @property {string} [baseline] Variant the other variants are compared with (time ratio column).
 * @property {Partial<MeasureOptions>} [options] Per-suite overrides of the measurement budget.
 * @property {BenchCase[]} cases In run order; interleave variants so drift hits them alike.
 */

/**
 * @typedef {object} MeasureOptions
 * @property {number} warmupMs Time spent running the case before sampling (JIT, caches).
 * @property {number} maxTimeMs Sampling stops after this long (once `minSamples` are taken).
 * @property {number} minSamples At least this many samples, however slow the case.
 * @property {number} maxSamples Sampling stops at this many samples.
 * @property {number} targetSampleNs Each sample runs a batch of calls lasting about this long,
 *   so that timer resolution and overhead (~100 ns per `hrtime` read) stay negligible.
 */

/** A time ratio with two significant digits, so a tiny ratio reads 0.0000078×, never 0.00×. */
function formatRatio(ratio) {
  return `${ratio >= 0.01 ? ratio.toFixed(2) : ratio.toPrecision(2)}×`;
}

/** @type {MeasureOptions} */
export const DEFAULT_OPTIONS = {
  warmupMs: 250,
  maxTimeMs: 1000,
  minSamples: 10,
  maxSamples: 300,
  targetSampleNs: 1_000_000,
};

/**
 * A fast budget for smoke runs (`--quick`): numbers are noisier but the pipeline is exercised.
 * @type {MeasureOptions}
 */
export const QUICK_OPTIONS = {
  warmupMs: 20,
  maxTimeMs: 60,
  minSamples: 3,
  maxSamples: 30,
  targetSampleNs: 200_000,
};

/** Keeps results alive so the JIT cannot drop a call whose result is unused. */
const sink = { value: undefined };

const now = () => process.hrtime.bigint();

/** Runs `fn` `count` times; returns the elapsed nanoseconds. */
async function runBatch(fn, count, isAsync) {
  const start = now();
  if (isAsync) {
    for (let i = 0; i < count; i++) sink.value = await fn();
  } else {
    for (let i = 0; i < count; i++) sink.value = fn();
  }
  return Number(now() - start);
}

/**
 * Warms a case up and picks its batch size: warm-up doubles the batch until it has run for
 * `warmupMs`, and the last batch estimates the time of one call.
 * @param {() => unknown} fn
 * @param {MeasureOptions} options
 * @returns {Promise<{ fn: () => unknown, isAsync: boolean, batch: number }>}
 */
async function calibrate(fn, options) {
  const first = fn();
  const isAsync = first instanceof Promise;
  if (isAsync) await first;
  let spentNs = 0;
  let perCallNs = Number.POSITIVE_INFINITY;
  for (let batch = 1; spentNs < options.warmupMs * 1e6; batch *= 2) {
    const elapsed = await runBatch(fn, batch, isAsync);
    spentNs += elapsed;
    perCallNs = Math.max(elapsed / batch, 1);
  }
  const batch = Math.max(1, Math.min(1_000_000, Math.round(options.targetSampleNs / perCallNs)));
  return { fn, isAsync, batch };
}

/**
 * Measures cases that will be compared with each other (the variants of one operation). After
 * each is warmed up, samples are taken round-robin, one per case per round, so load that comes
 * and goes on a shared machine hits every variant alike and their ratio stays meaningful.
 * @param {(() => unknown)[]} fns
 * @param {MeasureOptions} options
 * @returns {Promise<{ samplesNs: number[], batch: number }[]>} per-call samples, in `fns` order
 */
export async function measureGroup(fns, options) {
  globalThis.gc?.(); // with --expose-gc: start without the previous group's garbage
  const calibrated = [];
  for (const fn of fns) calibrated.push(await calibrate(fn, options));
  const samples = calibrated.map(() => []);
  const budgetNs = options.maxTimeMs * 1e6 * fns.length;
  let spentNs = 0;
  while (
    (samples[0]?.length ?? options.maxSamples) < options.maxSamples &&
    (spentNs < budgetNs || (samples[0]?.length ?? 0) < options.minSamples)
  ) {
    for (const [i, { fn, isAsync, batch }] of calibrated.entries()) {
      const elapsed = await runBatch(fn, batch, isAsync);
      spentNs += elapsed;
      samples[i]?.push(elapsed / batch);
    }
  }
  return calibrated.map(({ batch }, i) => ({ samplesNs: samples[i] ?? [], batch }));
}

/**
 * Measures one case on its own.
 * @param {() => unknown} fn
 * @param {MeasureOptions} options
 */
export async function measure(fn, options) {
  const [result] = await measureGroup([fn], options);
  return result;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Median, p99, mean and throughput of per-call samples (nanoseconds).
 * @param {number[]} samplesNs
 */
export function summarize(samplesNs) {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return {
    medianNs: median,
    p99Ns: percentile(sorted, 99),
    meanNs: mean,
    opsPerSec: 1e9 / median,
    n: sorted.length,
  };
}

/**
 * Runs every case of a suite in order. Consecutive cases with the same name (the variants of one
 * operation) are measured together, round-robin, so that their ratio is fair.
 * @param {BenchSuite} suite
 * @param {MeasureOptions} baseOptions
 * @param {(line: string) => void} log
 */
export async function runSuite(suite, baseOptions, log) {
  const options = { ...baseOptions, ...(suite.options ?? {}) };
  const groups = [];
  for (const benchCase of suite.cases) {
    const last = groups.at(-1);
    if (last && last[0].name === benchCase.name) last.push(benchCase);
    else groups.push([benchCase]);
  }
  const results = [];
  for (const group of groups) {
    const measured = await measureGroup(
      group.map((benchCase) => benchCase.fn),
      options,
    );
    for (const [i, benchCase] of group.entries()) {
      const { samplesNs, batch } = measured[i];
      const stats = summarize(samplesNs);
      results.push({ name: benchCase.name, variant: benchCase.variant ?? '', batch, ...stats });
      const label = benchCase.variant ? `${benchCase.name} [${benchCase.variant}]` : benchCase.name;
      log(
        `  ${label.padEnd(52)} ${formatNs(stats.medianNs).padStart(10)}  p99 ${formatNs(stats.p99Ns).padStart(10)}`,
      );
    }
  }
  return results;
}

/** 3 significant digits in ns, µs, ms or s. */
export function formatNs(ns) {
  const units = [
    [1e9, 's'],
    [1e6, 'ms'],
    [1e3, 'µs'],
  ];
  for (const [scale, unit] of units) {
    if (ns >= scale) return `${(ns / scale).toPrecision(3)} ${unit}`;
  }
  return `${ns.toPrecision(3)} ns`;
}

function formatOps(ops) {
  if (ops >= 1e6) return `${(ops / 1e6).toPrecision(3)} M`;
  if (ops >= 1e3) return `${(ops / 1e3).toPrecision(3)} k`;
  return ops.toPrecision(3);
}

/** The facts that make a number comparable (or not) with another machine's. */
export function machineFacts() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    openssl: process.versions.openssl ?? 'none',
  };
}

/**
 * Markdown for one suite: heading, environment line, one table, optional time ratios.
 * @param {BenchSuite} suite
 * @param {Awaited<ReturnType<typeof runSuite>>} results
 * @param {{ date: string, facts: ReturnType<typeof machineFacts>, quick: boolean }} run
 */
export function renderSuite(suite, results, run) {
  const { facts } = run;
  const lines = [`## ${suite.title}`, ''];
  if (suite.description) lines.push(suite.description.trim(), '');
  lines.push(
    `Run ${run.date}${run.quick ? ' with `--quick` (short budget, noisy)' : ''} on ${facts.cpu}, ` +
      `${facts.cores} cores, ${facts.memoryGiB} GiB, ${facts.os}, Node ${facts.node} (OpenSSL ${facts.openssl}).`,
    '',
  );
  const baseline = suite.baseline;
  const hasVariants = results.some((r) => r.variant);
  const header = [
    'Operation',
    ...(hasVariants ? ['Variant'] : []),
    'Median',
    'p99',
    'ops/s',
    'Samples × batch',
  ];
  if (baseline) header.push(`Time ÷ ${baseline}`);
  lines.push(
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
  );
  for (const r of results) {
    const row = [r.name];
    if (hasVariants) row.push(r.variant);
    row.push(formatNs(r.medianNs), formatNs(r.p99Ns), formatOps(r.opsPerSec), `${r.n} × ${r.batch}`);
    if (baseline) {
      const base = results.find((other) => other.name === r.name && other.variant === baseline);
      row.push(base ? formatRatio(r.medianNs / base.medianNs) : '–');
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  if (baseline) {
    lines.push(
      '',
      `*Time ÷ ${baseline}* is the median time of the row divided by the median time of the same operation ` +
        `on \`${baseline}\`, both from this run: below 1 is faster than ${baseline}.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
