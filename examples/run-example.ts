import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The built entry points the examples import (they run against dist, as an npm user's code would). */
const BUILT = ['core', 'runtime', 'metering', 'oversight', 'messaging', 'enablement', 'testing'].map((name) =>
  fileURLToPath(new URL(`../packages/${name}/dist/index.js`, import.meta.url)),
);

/** What a finished example printed. */
export interface ExampleOutput {
  /** Everything written to stdout. */
  readonly stdout: string;
  /** Everything written to stderr (the examples write none when they succeed). */
  readonly stderr: string;
}

/**
 * Runs `examples/<file>` with this Node.js in a child process, exactly as `node examples/<file>`
 * does after `npm run build`, and resolves with its output once it exits with code 0. Anything
 * else — a missing build, a non-zero exit, a hang past `timeoutMs` — rejects with the example's
 * output in the message, so a failing test shows where the example stopped.
 */
export async function runExample(file: string, timeoutMs = 60_000): Promise<ExampleOutput> {
  const missing = BUILT.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(`build the packages first (npm run build); missing: ${missing.join(', ')}`);
  }
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
  try {
    const { stdout, stderr } = await run(process.execPath, [path], {
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { stdout, stderr };
  } catch (error) {
    const { code, signal, stdout, stderr } = error as {
      code?: number | string;
      signal?: string;
      stdout?: string;
      stderr?: string;
    };
    throw new Error(
      `examples/${file} failed (exit ${code ?? '?'}${signal ? `, signal ${signal}` : ''})\n` +
        `--- stdout ---\n${stdout ?? ''}\n--- stderr ---\n${stderr ?? ''}`,
    );
  }
}
