#!/usr/bin/env node
// A tour of the shared platform under the four products (`@creto/core` only): identities with
// hybrid keys, delegation chains (attenuated, forged and rejected), hybrid signatures over
// canonical JSON, a signed usage event tampered with in transit, raw post-quantum key agreement,
// the policy engine with an override token bound to one call, the audit log's proofs, and the
// spec's §8.2 error shape. The product flows of spec §7 are the `flow-7.*.mjs` examples; this
// shows the pieces they stand on, each with the forgery it refuses.
//
// Time: the system clock (nothing here waits). Run it after a build:
// `npm run build && node examples/platform-tour.mjs`.
import {
  AgentKeyPair,
  AuditEvents,
  bytesToUtf8,
  canonicalBytes,
  concatBytes,
  createPlatform,
  nobleCryptoProvider as crypto,
  DelegationChain,
  decodeHybridSignature,
  decodeRuntimeUsageEvent,
  EnablementError,
  encodeHybridSignature,
  encodeRuntimeUsageEvent,
  issueDelegation,
  issueOverrideToken,
  newSandboxId,
  newUuid,
  openCheckpoint,
  policyId,
  registrationProof,
  retryStrategyFor,
  SystemClock,
  usageEventSigningBytes,
  utf8ToBytes,
  verifyHybrid,
  verifyInclusion,
} from '@creto/core';

const clock = new SystemClock();
const HOUR = 3_600_000_000_000n;
const out = (text = '') => process.stdout.write(`${text}\n`);
const section = (title) => out(`\n── ${title} ${'─'.repeat(Math.max(0, 72 - title.length))}`);
const short = (nhi) => `${nhi.slice(0, 28)}…`;
/** Runs `fn`, which must throw an EnablementError; prints its code and message. */
function expectRejected(label, fn) {
  try {
    fn();
  } catch (error) {
    if (!EnablementError.is(error)) throw error;
    out(`   ✗ ${label}: rejected ${error.code} — ${error.message}`);
    return error;
  }
  throw new Error(`tour: expected "${label}" to be rejected`);
}

out('Creto Enablement SDK — platform tour (@creto/core)');

section('1. Identities (spec §6.1): Ed25519, plus ML-DSA-65 for post-quantum signatures');
const cfo = AgentKeyPair.generate({ kind: 'human' });
const agent = AgentKeyPair.generate({ kind: 'agent', postQuantum: true });
const helper = AgentKeyPair.generate({ kind: 'agent' });
out(`   human  ${cfo.identity.nhi}`);
out(`   agent  ${agent.identity.nhi}  (+ ML-DSA-65 key, ${agent.identity.publicKeyMlDsa65?.length} bytes)`);
out(`   helper ${helper.identity.nhi}`);

section('2. Delegation (spec §6.2): the human grants the agent attenuated capabilities');
const grant = issueDelegation({
  issuer: cfo,
  subject: agent.identity,
  clock,
  expiresAt: clock.now() + HOUR,
  capabilities: [
    { action: 'sandbox.*', resource: 'runtime:sandbox:*' },
    { action: 'network.egress', resource: 'network:api.example.com' },
  ],
});
const subGrant = issueDelegation({
  issuer: agent,
  subject: helper.identity,
  clock,
  expiresAt: clock.now() + HOUR / 2n,
  capabilities: [{ action: 'sandbox.spawn', resource: 'runtime:sandbox:*' }],
});
const chain = DelegationChain.from([grant, subGrant]);
await chain.validate({ clock, trustedRoots: [cfo.identity.nhi] });
out(
  `   chain ${short(chain.root().nhi)} → ${short(agent.identity.nhi)} → ${short(chain.current().nhi)}: valid`,
);
for (const [action, resource] of [
  ['sandbox.spawn', 'runtime:sandbox:sb-7'],
  ['sandbox.terminate', 'runtime:sandbox:sb-7'],
  ['network.egress', 'network:api.example.com'],
]) {
  out(`   helper may ${action} on ${resource}? ${chain.allows(action, resource)}`);
}
const overBroad = issueDelegation({
  issuer: agent,
  subject: helper.identity,
  clock,
  expiresAt: clock.now() + HOUR / 2n,
  capabilities: [{ action: 'payment.*', resource: '*' }],
});
await DelegationChain.from([grant, overBroad])
  .validate({ clock, trustedRoots: [cfo.identity.nhi] })
  .then(
    () => {
      throw new Error('tour: an over-broad delegation validated');
    },
    (error) =>
      out(`   ✗ agent re-delegates payment.* it never had: rejected ${error.code} — ${error.message}`),
  );
const forged = {
  ...subGrant,
  signature: Uint8Array.from(subGrant.signature, (b, i) => (i === 0 ? b ^ 1 : b)),
};
await DelegationChain.from([grant, forged])
  .validate({ clock, trustedRoots: [cfo.identity.nhi] })
  .then(
    () => {
      throw new Error('tour: a forged delegation validated');
    },
    (error) => out(`   ✗ one bit flipped in a link signature: rejected ${error.code} — ${error.message}`),
  );

section('3. Hybrid signature (ARCHITECTURE §4 crypto): Ed25519 ‖ ML-DSA-65 over RFC 8785 bytes');
const attestation = {
  type: 'creto.tour.attestation',
  agent: agent.identity.nhi,
  runtime_class: 'quickjs',
  issued_at: clock.now().toString(),
};
const signedBytes = canonicalBytes(attestation);
const signature = agent.signHybrid(signedBytes);
const publicKey = agent.identity.hybridPublicKey();
out(`   canonical bytes: ${bytesToUtf8(signedBytes)}`);
out(`   signature: ${signature.ed25519.length} + ${signature.mlDsa65.length} bytes`);
out(`   verifies: ${verifyHybrid(crypto, publicKey, signedBytes, signature)}`);
const tampered = canonicalBytes({ ...attestation, runtime_class: 'process' });
out(`   verifies after changing runtime_class: ${verifyHybrid(crypto, publicKey, tampered, signature)}`);

section('4. Signed usage event (spec §4.1): Runtime → metering.events.runtime → Metering');
const unsigned = {
  eventId: newUuid(),
  agentNhi: agent.identity.nhi,
  delegationChain: [cfo.identity.nhi, agent.identity.nhi],
  eventType: 'sandbox_allocated',
  consensusTimestamp: clock.now(),
  idempotencyKey: `spawn-${agent.identity.nhi.slice(-8)}-1`,
  properties: {
    type: 'SandboxAllocated',
    sandboxId: newSandboxId(),
    runtimeClass: 'gvisor',
    cpuMillicores: 1000,
    memoryBytes: 2_147_483_648n,
    durationSeconds: 0n,
  },
};
const eventSignature = encodeHybridSignature(agent.signHybrid(usageEventSigningBytes(unsigned)));
const wire = encodeRuntimeUsageEvent({ ...unsigned, signature: eventSignature });
const shown = {
  ...wire,
  signature: `${wire.signature.slice(0, 24)}… (${eventSignature.length} bytes, hybrid)`,
};
out(
  JSON.stringify(shown, null, 2)
    .split('\n')
    .map((line) => `   ${line}`)
    .join('\n'),
);
/** Metering's first two steps of §4.1: validate the schema, then verify the signature. */
function ingest(json) {
  const event = decodeRuntimeUsageEvent(json);
  const ok = verifyHybrid(
    crypto,
    agent.identity.hybridPublicKey(), // Metering resolves agent_nhi's keys through NHI
    usageEventSigningBytes(event),
    decodeHybridSignature(event.signature),
  );
  if (!ok) throw new EnablementError('MT-401', `usage event ${event.eventId}: signature invalid`);
  return event;
}
const received = ingest(JSON.parse(JSON.stringify(wire)));
out(
  `   metering verified ${received.eventType}: ${received.properties.memoryBytes} bytes of memory (bigint)`,
);
expectRejected('memory_bytes raised in transit', () =>
  ingest({ ...wire, properties: { ...wire.properties, memory_bytes: '4294967296' } }),
);
expectRejected('malformed event', () =>
  ingest({ ...wire, properties: { ...wire.properties, cpu_millicores: -1 } }),
);

section('5. Post-quantum key agreement: X25519 + ML-KEM-768 → HKDF-SHA-256 → ChaCha20-Poly1305');
const recipientDh = crypto.x25519.generateKeyPair();
const recipientKem = crypto.mlKem.generateKeyPair('ML-KEM-768');
const senderDh = crypto.x25519.generateKeyPair();
const { cipherText, sharedSecret: kemSecret } = crypto.mlKem.encapsulate(recipientKem.publicKey);
const deriveKey = (dh, kem) =>
  crypto.hkdfSha256(concatBytes(dh, kem), new Uint8Array(32), utf8ToBytes('creto-tour-v1'), 32);
const senderKey = deriveKey(crypto.x25519.sharedSecret(senderDh.secretKey, recipientDh.publicKey), kemSecret);
const nonce = crypto.randomBytes(12);
const sealed = crypto.aead.seal('chacha20-poly1305', senderKey, nonce, utf8ToBytes('Payment processed'));
const recipientKey = deriveKey(
  crypto.x25519.sharedSecret(recipientDh.secretKey, senderDh.publicKey),
  crypto.mlKem.decapsulate(cipherText, recipientKem.secretKey),
);
out(`   KEM cipher text ${cipherText.length} bytes; sealed message ${sealed.length} bytes`);
out(
  `   recipient opens: "${bytesToUtf8(crypto.aead.open('chacha20-poly1305', recipientKey, nonce, sealed))}"`,
);
const flipped = Uint8Array.from(sealed, (b, i) => (i === 3 ? b ^ 0x80 : b));
expectRejected('ciphertext with one bit flipped', () =>
  crypto.aead.open('chacha20-poly1305', recipientKey, nonce, flipped),
);

section('6. Platform (spec §3, §7.2): policy, oversight requirement, override token, audit');
const oversightService = AgentKeyPair.generate({ kind: 'service' }); // Oversight's signing identity
const platform = createPlatform({ clock, authz: { overrideTokenIssuers: [oversightService.identity.nhi] } });
await platform.nhi.register({ identity: cfo.identity, roles: ['cfo'] });
await platform.nhi.register({
  identity: agent.identity,
  roles: ['payments'],
  proof: registrationProof(agent),
});
platform.authz.setPolicies([
  {
    id: 'payments-team',
    effect: 'permit',
    action: 'funds.transfer',
    when: { attr: 'principal.roles', op: 'contains', value: 'payments' },
  },
  {
    id: 'large-transfer',
    effect: 'require_oversight',
    action: 'funds.transfer',
    when: { attr: 'context.amount', op: 'gt', value: 10000 },
    requirement: {
      tiers: [{ approvers: [cfo.identity.nhi], quorum: 1, timeoutMs: 7_200_000 }],
      finalAction: 'auto_deny',
    },
  },
]);
const transfer = (amount, overrideToken) => ({
  principal: agent.identity.nhi,
  action: 'funds.transfer',
  resource: 'payments:account:ops',
  context: { amount },
  ...(overrideToken ? { overrideToken } : {}),
});
const small = platform.authz.evaluate(transfer(5000));
out(`   transfer 5000: ${small.decision} (${small.policyIds.join(', ')})`);
const large = platform.authz.evaluate(transfer(50000));
out(`   transfer 50000: ${large.decision} — approver ${short(large.requirement.tiers[0].approvers[0])}`);
// Oversight would collect the CFO's approval; its service key then issues a token bound to this call.
const requestId = newUuid();
const approvedToken = () =>
  issueOverrideToken({
    signer: oversightService,
    principal: agent.identity.nhi,
    action: 'funds.transfer',
    resource: 'payments:account:ops',
    arguments: { amount: 50000 },
    expiresAt: clock.now() + HOUR,
    requestId,
    clock,
  });
const token = approvedToken();
const { decision: withToken } = platform.authz.evaluate(transfer(50000, token));
out(`   transfer 50000 with the override token: ${withToken}`);
expectRejected('the same token replayed', () => platform.authz.evaluate(transfer(50000, token)));
expectRejected('a 50000 token used for 50001', () =>
  platform.authz.evaluate(transfer(50001, approvedToken())),
);

const receipts = [];
for (const event of [
  AuditEvents.requestCreated(
    {
      requestId,
      agentNhi: agent.identity.nhi,
      action: 'funds.transfer',
      policyId: policyId('large-transfer'),
    },
    { timestamp: clock.now() },
  ),
  AuditEvents.responseReceived(
    { requestId, agentNhi: agent.identity.nhi, approver: cfo.identity.nhi, decision: 'approve' },
    { timestamp: clock.now() },
  ),
]) {
  receipts.push(await platform.audit.append(event));
}
const last = receipts.at(-1);
const { note } = await platform.audit.checkpoint();
const opened = openCheckpoint(note, [platform.audit.checkpointVerifier]);
out(
  `   audit log: ${platform.audit.size} events; signed checkpoint for tree size ${opened.checkpoint.treeSize}`,
);
out(
  `   inclusion proof of the approval verifies against the root: ${verifyInclusion(
    last.leafIndex,
    last.treeSize,
    last.leafHash,
    last.inclusionPath,
    last.rootHash,
  )}`,
);
platform.dispose();

section('7. Error propagation (spec §8.2): Runtime error caused by a Metering quota');
const quota = new EnablementError('MT-429', 'Monthly sandbox quota exceeded (100/100)', {
  retryAfterMs: 86_400_000,
  traceId: 'trace-xyz',
});
const spawnError = new EnablementError('RT-429', 'Cannot spawn sandbox: quota exceeded', { cause: quota });
out(
  JSON.stringify(spawnError.toJSON(), null, 2)
    .split('\n')
    .map((line) => `   ${line}`)
    .join('\n'),
);
out(`   retry strategy: ${JSON.stringify(retryStrategyFor(spawnError))}`);

for (const key of [cfo, agent, helper]) key.dispose();
out('\nDone: every step above ran for real; nothing was mocked.');
