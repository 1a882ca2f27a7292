import { type CryptoProvider, nobleCryptoProvider, utf8ToBytes } from '@creto/core';
import { nodeCryptoProvider } from '@creto/core/crypto/node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DoubleRatchet, type DoubleRatchetOptions, type RatchetMessage } from './double-ratchet.js';
import { encodeHeader } from './header.js';

function pair(provider: CryptoProvider = nobleCryptoProvider, options: DoubleRatchetOptions = {}) {
  const sk = provider.randomBytes(32);
  const ad = provider.randomBytes(66);
  const bobSpk = provider.x25519.generateKeyPair();
  const alice = DoubleRatchet.initiator(provider, sk, bobSpk.publicKey, ad, options);
  const bob = DoubleRatchet.responder(provider, sk, bobSpk, ad, options);
  return { alice, bob };
}

const text = (s: string) => utf8ToBytes(s);
const code = (c: string) => expect.objectContaining({ code: c });

function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const out = bytes.slice();
  out[index] = (out[index] ?? 0) ^ mask;
  return out;
}

describe('DoubleRatchet', () => {
  it.each([
    ['noble', nobleCryptoProvider, 'chacha20-poly1305'],
    ['node', nodeCryptoProvider, 'aes-256-gcm'],
  ] as const)('round-trips a conversation with DH ratchet steps (%s, %s)', (_, provider, aead) => {
    const { alice, bob } = pair(provider, { aead });
    expect(bob.canSend).toBe(false);
    expect(() => bob.encrypt(text('x'))).toThrow(code('MS-400'));
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++)
        expect(bob.decrypt(alice.encrypt(text(`a${round}.${i}`)))).toEqual(text(`a${round}.${i}`));
      for (let i = 0; i < 2; i++)
        expect(alice.decrypt(bob.encrypt(text(`b${round}.${i}`)))).toEqual(text(`b${round}.${i}`));
    }
  });

  it('1000 messages in random order with random drops decrypt exactly once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const { alice, bob } = pair();
        let state = seed;
        const rand = () => {
          state = (state * 1103515245 + 12345) & 0x7fffffff;
          return state / 0x80000000;
        };
        // Alice and Bob alternate in bursts so several DH ratchet steps happen; all in flight.
        const toBob: { m: RatchetMessage; p: string }[] = [];
        const toAlice: { m: RatchetMessage; p: string }[] = [];
        bob.decrypt(alice.encrypt(text('hello'))); // Bob can send after his first receive
        let count = 0;
        while (count < 1000) {
          const burst = 1 + Math.floor(rand() * 50);
          for (let i = 0; i < burst && count < 1000; i++, count++) {
            const p = `m${count}`;
            if (rand() < 0.5) toBob.push({ m: alice.encrypt(text(p)), p });
            else toAlice.push({ m: bob.encrypt(text(p)), p });
          }
        }
        for (const [queue, receiver] of [
          [toBob, bob],
          [toAlice, alice],
        ] as const) {
          const delivered = queue.filter(() => rand() >= 0.1); // drop ~10%
          for (let i = delivered.length - 1; i > 0; i--) {
            const j = Math.floor(rand() * (i + 1));
            [delivered[i], delivered[j]] = [
              delivered[j] as (typeof delivered)[0],
              delivered[i] as (typeof delivered)[0],
            ];
          }
          for (const { m, p } of delivered) expect(receiver.decrypt(m)).toEqual(text(p));
          // exactly once: every replay is rejected
          for (const { m } of delivered.slice(0, 20))
            expect(() => receiver.decrypt(m)).toThrow(code('MS-003'));
        }
      }),
      { numRuns: 3 },
    );
  });

  it('rejects a replay of a message in the current chain and in an earlier chain (MS-003)', () => {
    const { alice, bob } = pair();
    const first = alice.encrypt(text('1'));
    bob.decrypt(first);
    expect(() => bob.decrypt(first)).toThrow(code('MS-003'));
    alice.decrypt(bob.encrypt(text('r')));
    const second = alice.encrypt(text('2')); // new chain
    bob.decrypt(second);
    expect(() => bob.decrypt(first)).toThrow(code('MS-003'));
    expect(() => bob.decrypt(second)).toThrow(code('MS-003'));
  });

  it('a tampered header or cipher text fails (MS-004 / MS-400) and leaves the state unchanged', () => {
    const { alice, bob } = pair();
    bob.decrypt(alice.encrypt(text('warm-up')));
    const m = alice.encrypt(text('secret'));
    const before = bob.serialize();
    expect(() => bob.decrypt({ ...m, ciphertext: flip(m.ciphertext, 0) })).toThrow(code('MS-004'));
    expect(() => bob.decrypt({ ...m, header: flip(m.header, 5) })).toThrow(code('MS-004')); // DH key
    expect(() => bob.decrypt({ ...m, header: flip(m.header, 40, 0x02) })).toThrow(code('MS-004')); // N 1 → 3
    expect(() => bob.decrypt({ ...m, header: flip(m.header, 40) })).toThrow(code('MS-003')); // N 1 → 0: used
    expect(() => bob.decrypt({ ...m, header: flip(m.header, 36) })).toThrow(code('MS-004')); // PN
    expect(() => bob.decrypt({ ...m, header: flip(m.header, 0) })).toThrow(code('MS-400')); // version
    expect(() => bob.decrypt({ ...m, header: m.header.slice(1) })).toThrow(code('MS-400'));
    expect(bob.serialize()).toEqual(before);
    expect(bob.decrypt(m)).toEqual(text('secret'));
  });

  it('a message for another session (wrong recipient) does not decrypt', () => {
    const one = pair();
    const two = pair();
    two.bob.decrypt(two.alice.encrypt(text('x')));
    expect(() => two.bob.decrypt(one.alice.encrypt(text('for someone else')))).toThrow(code('MS-004'));
  });

  it('bounds skipped keys: a jump beyond maxSkip is refused (MS-413), storage evicts the oldest', () => {
    const { alice, bob } = pair(nobleCryptoProvider, { maxSkip: 10, maxSkippedKeys: 15 });
    const sent = Array.from({ length: 12 }, (_, i) => alice.encrypt(text(`${i}`)));
    const before = bob.serialize();
    expect(() => bob.decrypt(sent[11] as RatchetMessage)).toThrow(code('MS-413'));
    expect(bob.serialize()).toEqual(before);
    expect(bob.decrypt(sent[10] as RatchetMessage)).toEqual(text('10'));
    expect(bob.skippedKeyCount).toBe(10);
    // a forged header claiming N = 2^32-1 cannot make the receiver compute billions of keys
    const m = alice.encrypt(text('x'));
    const header = encodeHeader({ dh: m.header.slice(1, 33), pn: 0, n: 0xffff_ffff });
    expect(() => bob.decrypt({ header, ciphertext: m.ciphertext })).toThrow(code('MS-413'));
    // eviction: 10 stored + a new chain skipping 8 more → 15 kept, the oldest gone
    alice.decrypt(bob.encrypt(text('turn')));
    const next = Array.from({ length: 9 }, (_, i) => alice.encrypt(text(`n${i}`)));
    expect(bob.decrypt(next[8] as RatchetMessage)).toEqual(text('n8'));
    expect(bob.skippedKeyCount).toBe(15);
    expect(() => bob.decrypt(sent[0] as RatchetMessage)).toThrow(); // evicted
    expect(bob.decrypt(sent[9] as RatchetMessage)).toEqual(text('9'));
  });

  it('serializes and restores mid-conversation (process restart), including skipped keys', () => {
    const { alice, bob } = pair();
    bob.decrypt(alice.encrypt(text('a')));
    const late = alice.encrypt(text('late'));
    bob.decrypt(alice.encrypt(text('b')));
    const restored = DoubleRatchet.deserialize(nobleCryptoProvider, bob.serialize());
    bob.dispose();
    expect(restored.decrypt(late)).toEqual(text('late'));
    expect(alice.decrypt(restored.encrypt(text('reply')))).toEqual(text('reply'));
    const alice2 = DoubleRatchet.deserialize(nodeCryptoProvider, alice.serialize());
    expect(restored.decrypt(alice2.encrypt(text('c')))).toEqual(text('c'));
  });

  it('refuses corrupt serialized state with a clear MS-400, never half-loading', () => {
    const { alice } = pair();
    const good = alice.serialize();
    const json = JSON.parse(new TextDecoder().decode(good));
    const variants: [string, unknown][] = [
      ['bytes', new Uint8Array([1, 2, 3])],
      ['type', { ...json, type: 'other' }],
      ['version', { ...json, version: 2 }],
      ['root_key', { ...json, root_key: 'AAAA' }],
      ['dhs_public', { ...json, dhs_public: json.dhr }],
      ['ns', { ...json, ns: -1 }],
      ['skipped', { ...json, skipped: [['x', 'y']] }],
      ['aead', { ...json, aead: 'rot13' }],
    ];
    for (const [field, value] of variants) {
      const bytes = value instanceof Uint8Array ? value : utf8ToBytes(JSON.stringify(value));
      expect(() => DoubleRatchet.deserialize(nobleCryptoProvider, bytes)).toThrow(
        expect.objectContaining({ code: 'MS-400', message: expect.stringContaining(field) }),
      );
    }
    expect(() => DoubleRatchet.deserialize(nobleCryptoProvider, good.slice(0, good.length - 3))).toThrow(
      code('MS-400'),
    );
  });

  it('recovers from key compromise: an old state cannot decrypt messages after a DH ratchet step', () => {
    const { alice, bob } = pair();
    bob.decrypt(alice.encrypt(text('1')));
    const stolen = bob.serialize(); // attacker copies Bob's full state
    alice.decrypt(bob.encrypt(text('2')));
    bob.decrypt(alice.encrypt(text('3')));
    alice.decrypt(bob.encrypt(text('4')));
    const after = alice.encrypt(text('secret after healing'));
    const attacker = DoubleRatchet.deserialize(nobleCryptoProvider, stolen);
    expect(() => attacker.decrypt(after)).toThrow();
    expect(bob.decrypt(after)).toEqual(text('secret after healing'));
  });

  it('never shows key material in toString / JSON / inspect', () => {
    const { alice } = pair();
    expect(String(alice)).toMatch(/^DoubleRatchet\(ns=0/);
    expect(JSON.stringify(alice)).toBe('{"ns":0,"nr":0,"skipped":0}');
  });
});
