import {
  AgentIdentity,
  AgentKeyPair,
  bytesToHex,
  canonicalBytes,
  DelegationChain,
  decodeWire,
  delegationLinkId,
  EnablementError,
  nobleCryptoProvider,
  RUNTIME_CLASS_PATTERN,
  utf8ToBytes,
} from '@creto/core';
import { z } from 'zod';
import { type CompiledNetworkPolicy, compileNetworkPolicy } from '../egress/hosts.js';
import { keyPairUsageSigner, type UsageEventSigner } from '../usage/signer.js';
import type { RuntimeLimits } from './options.js';
import type { SandboxSpec } from './types.js';

/** Default runtime class (ARCHITECTURE §6: the QuickJS driver is the default). */
export const DEFAULT_RUNTIME_CLASS = 'quickjs';
/** Default `cpuMillicores` (spec §12.2: 1000). */
export const DEFAULT_CPU_MILLICORES = 1000;
/** Default `memoryBytes` (spec §12.2: 2 GiB). */
export const DEFAULT_MEMORY_BYTES = 2_147_483_648n;
/** Most environment variables. */
export const MAX_ENV_ENTRIES = 256;
/** Longest environment variable value. */
export const MAX_ENV_VALUE_LENGTH = 32 * 1024;
/** Most labels. */
export const MAX_LABELS = 64;
/** Longest label value. */
export const MAX_LABEL_VALUE_LENGTH = 256;
/** Longest image name. */
export const MAX_IMAGE_LENGTH = 1024;

const ENV_KEY = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,255}$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$/;

/** A spawn spec after validation, with defaults applied. */
export interface NormalizedSpec {
  /** The agent's public identity. */
  readonly agent: AgentIdentity;
  /** Signs usage events. */
  readonly signer: UsageEventSigner;
  /** Set when signatures come from outside this process and must be verified before use. */
  readonly verifyWith: AgentIdentity | undefined;
  /** The delegation chain. */
  readonly delegationChain: DelegationChain | undefined;
  /** NHIs root to leaf (empty without a chain), for usage events and oversight requests. */
  readonly chainNames: readonly string[];
  /** Requested runtime class. */
  readonly runtimeClass: string;
  /** Image name or `undefined`. */
  readonly image: string | undefined;
  /** Code or `undefined`. */
  readonly code: string | undefined;
  /** CPU. */
  readonly cpuMillicores: number;
  /** Memory. */
  readonly memoryBytes: bigint;
  /** Lifetime, ms. */
  readonly timeoutMs: number;
  /** Exec limit, ms. */
  readonly execTimeoutMs: number;
  /** Environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Compiled egress lists. */
  readonly network: CompiledNetworkPolicy;
  /** Hex SHA-256 of the canonical normalized spec. */
  readonly specHash: string;
  /** Hex SHA-256 of the image name or the code, or `null`. */
  readonly imageOrCodeHash: string | null;
}

const fn = (value: unknown): boolean => typeof value === 'function';

function stringMap(keyPattern: RegExp, keyHint: string, maxEntries: number, maxValue: number) {
  return z
    .record(
      z.string().regex(keyPattern, { error: `expected ${keyHint}` }),
      z.string().max(maxValue, { error: `expected at most ${maxValue} characters` }),
    )
    .refine((map) => Object.keys(map).length <= maxEntries, { error: `at most ${maxEntries} entries` });
}

const specSchema = z.strictObject({
  agent: z.custom<AgentKeyPair | AgentIdentity>(
    (v) => v instanceof AgentKeyPair || v instanceof AgentIdentity,
    { error: 'expected an AgentKeyPair or an AgentIdentity' },
  ),
  signer: z.custom<UsageEventSigner>(fn, { error: 'expected a function' }).optional(),
  delegationChain: z
    .custom<DelegationChain>((v) => v instanceof DelegationChain, { error: 'expected a DelegationChain' })
    .optional(),
  runtimeClass: z
    .string()
    .max(64)
    .regex(RUNTIME_CLASS_PATTERN, { error: 'expected a lowercase runtime class token, e.g. "quickjs"' })
    .optional(),
  image: z
    .string()
    .max(MAX_IMAGE_LENGTH)
    .regex(/^[\x21-\x7e]+$/, { error: 'expected visible ASCII characters' })
    .optional(),
  code: z.string().optional(),
  cpuMillicores: z.number().int().min(1).optional(),
  memoryBytes: z.bigint().min(1n).optional(),
  timeoutMs: z.number().int().min(1).optional(),
  execTimeoutMs: z.number().int().min(1).optional(),
  env: stringMap(ENV_KEY, 'an environment variable name', MAX_ENV_ENTRIES, MAX_ENV_VALUE_LENGTH).optional(),
  labels: stringMap(
    LABEL_KEY,
    'a label key of A-Z a-z 0-9 _ . - /',
    MAX_LABELS,
    MAX_LABEL_VALUE_LENGTH,
  ).optional(),
  network: z.unknown().optional(),
});

function tooLarge(field: string, value: string, max: string): EnablementError {
  return new EnablementError('RT-413', `${field}: ${value} exceeds the runtime's limit of ${max}`);
}

function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(nobleCryptoProvider.sha256(bytes));
}

function sorted(map: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Validates a spawn spec (`RT-400` naming the field; `RT-413` above a runtime limit), applies the
 * defaults and computes the spec hash: SHA-256 of the RFC 8785 form of the normalized spec
 * (agent, delegation link ids, class, image, code hash, resources, timeouts, env, labels, network).
 */
export function normalizeSpec(spec: SandboxSpec, limits: RuntimeLimits): NormalizedSpec {
  const parsed = decodeWire(specSchema, spec, { contract: 'SandboxSpec', code: 'RT-400' });
  const { agent: agentInput } = parsed;
  let agent: AgentIdentity;
  let signer: UsageEventSigner;
  let verifyWith: AgentIdentity | undefined;
  if (agentInput instanceof AgentKeyPair) {
    if (parsed.signer !== undefined) {
      throw new EnablementError('RT-400', 'signer: give it with an AgentIdentity, not with an AgentKeyPair');
    }
    signer = keyPairUsageSigner(agentInput);
    agent = agentInput.identity;
  } else {
    if (parsed.signer === undefined) {
      throw new EnablementError(
        'RT-400',
        'signer: required when agent is an AgentIdentity (usage events are signed)',
      );
    }
    if (!agentInput.hasPostQuantumKey) {
      throw new EnablementError(
        'RT-400',
        `agent: ${agentInput.nhi} has no ML-DSA-65 key; usage events need a post-quantum signature`,
      );
    }
    signer = parsed.signer;
    agent = agentInput;
    verifyWith = agentInput;
  }
  if (agent.kind !== 'agent') {
    throw new EnablementError('RT-400', `agent: ${agent.nhi} is a ${agent.kind}, not an agent`);
  }
  const chain = parsed.delegationChain;
  let chainNames: string[] = [];
  let linkIds: string[] = [];
  if (chain !== undefined) {
    if (chain.length === 0) throw new EnablementError('RT-400', 'delegationChain: empty');
    if (chain.current().nhi !== agent.nhi) {
      throw new EnablementError(
        'RT-400',
        `delegationChain: its leaf is ${chain.current().nhi}, not the agent`,
      );
    }
    const links = chain.links;
    chainNames = [links[0]?.issuer ?? '', ...links.map((l) => l.subject)];
    linkIds = links.map((l) => delegationLinkId(l));
  }
  if (parsed.image !== undefined && parsed.code !== undefined) {
    throw new EnablementError('RT-400', 'image, code: give one of them, not both');
  }
  if (parsed.code !== undefined && parsed.code.length > limits.maxCodeLength) {
    throw tooLarge('code', `${parsed.code.length} characters`, `${limits.maxCodeLength}`);
  }
  const cpuMillicores = parsed.cpuMillicores ?? DEFAULT_CPU_MILLICORES;
  if (cpuMillicores > limits.maxCpuMillicores) {
    throw tooLarge('cpuMillicores', `${cpuMillicores}`, `${limits.maxCpuMillicores}`);
  }
  const memoryBytes = parsed.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  if (memoryBytes > limits.maxMemoryBytes) {
    throw tooLarge('memoryBytes', `${memoryBytes}`, `${limits.maxMemoryBytes}`);
  }
  const timeoutMs = parsed.timeoutMs ?? limits.defaultTimeoutMs;
  if (timeoutMs > limits.maxTimeoutMs) throw tooLarge('timeoutMs', `${timeoutMs}`, `${limits.maxTimeoutMs}`);
  const execTimeoutMs = parsed.execTimeoutMs ?? Math.min(limits.defaultExecTimeoutMs, timeoutMs);
  if (execTimeoutMs > limits.maxExecTimeoutMs) {
    throw tooLarge('execTimeoutMs', `${execTimeoutMs}`, `${limits.maxExecTimeoutMs}`);
  }
  const network = compileNetworkPolicy(parsed.network as SandboxSpec['network'], 'network');
  const env = Object.freeze(sorted(parsed.env ?? {}));
  const labels = Object.freeze(sorted(parsed.labels ?? {}));
  const runtimeClass = parsed.runtimeClass ?? DEFAULT_RUNTIME_CLASS;
  const codeHash = parsed.code === undefined ? null : sha256Hex(utf8ToBytes(parsed.code));
  const imageOrCodeHash = parsed.image !== undefined ? sha256Hex(utf8ToBytes(parsed.image)) : codeHash;
  const specHash = sha256Hex(
    canonicalBytes({
      agent_nhi: agent.nhi,
      delegation_link_ids: linkIds,
      runtime_class: runtimeClass,
      image: parsed.image ?? null,
      code_sha256: codeHash,
      cpu_millicores: cpuMillicores,
      memory_bytes: memoryBytes.toString(),
      timeout_ms: timeoutMs,
      exec_timeout_ms: execTimeoutMs,
      // Values enter only through their hash, so the canonical form below never holds a secret.
      env_sha256: sha256Hex(canonicalBytes(env)),
      labels,
      network: network.normalized,
    }),
  );
  return Object.freeze({
    agent,
    signer,
    verifyWith,
    delegationChain: chain,
    chainNames: Object.freeze(chainNames),
    runtimeClass,
    image: parsed.image,
    code: parsed.code,
    cpuMillicores,
    memoryBytes,
    timeoutMs,
    execTimeoutMs,
    env,
    labels,
    network,
    specHash,
    imageOrCodeHash,
  });
}
