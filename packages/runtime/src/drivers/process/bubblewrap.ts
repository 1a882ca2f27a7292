import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where {@link probeBubblewrap} looks for `bwrap` when no path is given, in order. */
export const BWRAP_CANDIDATE_PATHS: readonly string[] = Object.freeze([
  '/usr/bin/bwrap',
  '/usr/local/bin/bwrap',
  '/bin/bwrap',
]);

/** The PATH processes in a sandbox get unless `spec.env` sets one. */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where the egress proxy's Unix socket appears inside a bubblewrap sandbox. */
export const SANDBOX_EGRESS_SOCKET = '/run/creto/egress.sock';

/** How long a probe may take before it counts as a failure, ms. */
const PROBE_TIMEOUT_MS = 5000;

/** What {@link probeBubblewrap} found out. */
export interface BubblewrapProbe {
  /** Whether bubblewrap can build the sandbox the process driver uses, on this host, now. */
  readonly available: boolean;
  /** The `bwrap` executable probed (`undefined` when none was found). */
  readonly path: string | undefined;
  /** Why not, when unavailable: the spawn error or bwrap's own message (first line). */
  readonly reason?: string;
}

/** The first existing candidate path, or `undefined`. */
export function findBwrap(): string | undefined {
  return BWRAP_CANDIDATE_PATHS.find((path) => existsSync(path));
}

/**
 * The namespace and mount flags every sandbox gets (before its own binds). Probing with the same
 * flags means a successful probe predicts that real sandboxes start.
 *
 * - `--unshare-all`: new user (when possible), IPC, PID, network, UTS and cgroup namespaces. The
 *   network namespace has only a loopback interface, so the process reaches nothing outside it
 *   (ARCHITECTURE §6: egress goes through the host's proxy, spec §3.2).
 * - `--die-with-parent`, `--new-session`: the sandbox dies with the host; no terminal injection.
 * - `--cap-drop ALL`: a host running as root must not hand root's capabilities to the sandbox
 *   (with them, the process could remount the root read-write).
 * - `--ro-bind / /`: the host's root, read-only; `--tmpfs /tmp` and `--tmpfs /run`: private,
 *   empty and writable (hiding the host's Unix sockets under /run, e.g. docker.sock, which a
 *   network namespace does not); `--proc /proc`, `--dev /dev`: fresh proc and a minimal dev.
 */
export function baseBubblewrapArgs(hiddenPaths: readonly string[]): string[] {
  const args = [
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--ro-bind',
    '/',
    '/',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/run',
  ];
  for (const path of hiddenPaths) args.push('--tmpfs', path);
  args.push('--proc', '/proc', '--dev', '/dev');
  return args;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.slice(0, 300) ?? '';
}

const probeEnv = { PATH: SANDBOX_PATH };

/**
 * Checks whether bubblewrap works here by running `true` in a sandbox built like the process
 * driver's. Inside some containers bwrap is installed but cannot create namespaces; the probe
 * then reports `available: false` with bwrap's reason, and the process driver refuses to run
 * unless told to run unisolated.
 *
 * @param path - The `bwrap` executable; default: the first of {@link BWRAP_CANDIDATE_PATHS}.
 */
export function probeBubblewrap(path: string | undefined = findBwrap()): Promise<BubblewrapProbe> {
  if (path === undefined) {
    return Promise.resolve({ available: false, path, reason: 'bwrap was not found' });
  }
  return new Promise((resolve) => {
    let stderr = '';
    let settled = false;
    const finish = (probe: BubblewrapProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(probe);
    };
    const child = spawn(path, [...baseBubblewrapArgs([]), '--', 'true'], {
      env: probeEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // A resource guard for a hung probe, not logic time.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ available: false, path, reason: `the probe took more than ${PROBE_TIMEOUT_MS} ms` });
    }, PROBE_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    child.on('error', (error) => finish({ available: false, path, reason: error.message }));
    child.on('close', (code) => {
      if (code === 0) finish({ available: true, path });
      else finish({ available: false, path, reason: firstLine(stderr) || `bwrap exited with code ${code}` });
    });
  });
}

/** The synchronous twin of {@link probeBubblewrap} (blocks for the few ms bwrap takes). */
export function probeBubblewrapSync(path: string | undefined = findBwrap()): BubblewrapProbe {
  if (path === undefined) return { available: false, path, reason: 'bwrap was not found' };
  const result = spawnSync(path, [...baseBubblewrapArgs([]), '--', 'true'], {
    env: probeEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: PROBE_TIMEOUT_MS,
    encoding: 'utf8',
  });
  if (result.error !== undefined) return { available: false, path, reason: result.error.message };
  if (result.status === 0) return { available: true, path };
  return {
    available: false,
    path,
    reason: firstLine(result.stderr) || `bwrap exited with code ${result.status}`,
  };
}
