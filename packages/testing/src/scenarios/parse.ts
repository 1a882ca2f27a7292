import { EnablementError } from '@creto/core';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';

/** One step of a scenario: its name, its arguments and where it is written. */
export interface ScenarioStep {
  /** The step's name, e.g. `spawn_sandbox`. */
  readonly name: string;
  /** Its arguments (`{}` for a bare step such as `- terminate_sandbox`). */
  readonly args: Readonly<Record<string, unknown>>;
  /** 1-based line of the step in its file. */
  readonly line: number;
}

/** One scenario: a name and its steps in order. */
export interface Scenario {
  /** The scenario's name. */
  readonly name: string;
  /** Its steps. */
  readonly steps: readonly ScenarioStep[];
  /** The file it came from (as given to {@link parseScenarios}). */
  readonly file: string;
  /** 1-based line of the scenario. */
  readonly line: number;
}

/** Most scenarios in one file. */
export const MAX_SCENARIOS_PER_FILE = 1_000;
/** Most steps in one scenario. */
export const MAX_STEPS_PER_SCENARIO = 1_000;
/** Largest scenario file, in characters. */
export const MAX_SCENARIO_FILE_LENGTH = 1_000_000;

function fail(file: string, line: number, message: string): never {
  throw new EnablementError('PL-400', `${file}:${line}: ${message}`);
}

/**
 * Parses the scenario format of spec §12.2: a document with `scenarios:`, a list of
 * `{ name, steps }`, where each step is either a bare name (`- terminate_sandbox`) or a map with
 * exactly one key, the step name, whose value is the step's arguments. Line numbers are kept so
 * a failing step can be reported as `file:line`. `PL-400` with the file and line for anything else.
 *
 * @example
 * ```ts
 * const scenarios = parseScenarios(readFileSync(path, 'utf8'), path);
 * ```
 */
export function parseScenarios(text: string, file = '<scenarios>'): Scenario[] {
  if (typeof text !== 'string') throw new EnablementError('PL-400', `${file}: expected YAML text`);
  if (text.length > MAX_SCENARIO_FILE_LENGTH) {
    throw new EnablementError('PL-400', `${file}: longer than ${MAX_SCENARIO_FILE_LENGTH} characters`);
  }
  const lineCounter = new LineCounter();
  // Duplicate keys are errors; the nodes give line numbers, `toJS` the values.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const lineOf = (node: Node | null | undefined): number =>
    node?.range == null ? 1 : lineCounter.linePos(node.range[0]).line;
  const [firstError] = doc.errors;
  if (firstError !== undefined) {
    fail(file, firstError.linePos?.[0]?.line ?? 1, `invalid YAML: ${firstError.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  // maxAliasCount bounds "billion laughs" alias expansion.
  const values = (() => {
    try {
      return doc.toJS({ maxAliasCount: 100 }) as { scenarios?: { steps?: unknown[] }[] } | null;
    } catch (error) {
      return fail(file, 1, `invalid YAML: ${error instanceof Error ? error.message : String(error)}`);
    }
  })();
  if (!isMap(root)) fail(file, lineOf(root), 'expected a map with a `scenarios` list');
  const list = root.get('scenarios', true);
  if (!isSeq(list)) fail(file, lineOf(root), '`scenarios` must be a list');
  if (list.items.length > MAX_SCENARIOS_PER_FILE)
    fail(file, lineOf(list), `more than ${MAX_SCENARIOS_PER_FILE} scenarios`);
  return list.items.map((item, scenarioIndex) => {
    const node = item as Node;
    if (!isMap(node)) fail(file, lineOf(node), 'a scenario must be a map with `name` and `steps`');
    const name = node.get('name');
    if (typeof name !== 'string' || name.length === 0) fail(file, lineOf(node), 'a scenario needs a `name`');
    const steps = node.get('steps', true);
    if (!isSeq(steps)) fail(file, lineOf(node), `scenario "${name}": \`steps\` must be a list`);
    if (steps.items.length > MAX_STEPS_PER_SCENARIO) {
      fail(file, lineOf(steps), `scenario "${name}": more than ${MAX_STEPS_PER_SCENARIO} steps`);
    }
    const stepValues = values?.scenarios?.[scenarioIndex]?.steps ?? [];
    const parsedSteps = steps.items.map((stepItem, stepIndex): ScenarioStep => {
      const stepNode = stepItem as Node;
      const line = lineOf(stepNode);
      if (isScalar(stepNode) && typeof stepNode.value === 'string')
        return { name: stepNode.value, args: {}, line };
      if (!isMap(stepNode) || stepNode.items.length !== 1) {
        fail(
          file,
          line,
          `scenario "${name}": a step is a name or a map with exactly one key (the step name)`,
        );
      }
      const [pair] = stepNode.items;
      const key = isScalar(pair?.key) ? pair.key.value : undefined;
      if (typeof key !== 'string' || key.length === 0)
        fail(file, line, `scenario "${name}": step name must be text`);
      const value = (stepValues[stepIndex] as Record<string, unknown> | undefined)?.[key];
      if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
        fail(file, line, `step ${key}: arguments must be a map`);
      }
      return { name: key, args: Object.freeze({ ...((value ?? {}) as Record<string, unknown>) }), line };
    });
    return Object.freeze({ name, steps: Object.freeze(parsedSteps), file, line: lineOf(node) });
  });
}
