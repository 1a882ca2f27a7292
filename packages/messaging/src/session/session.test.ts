import { nobleCryptoProvider as provider, utf8ToBytes } from '@creto/core';
import { describe, expect, it } from 'vitest';
import { DoubleRatchet } from '../protocol/double-ratchet.js';
import { KeyedMutex } from './mutex.js';
import { SessionRecord } from './record.js';
import { createInMemorySessionStore } from './store.js';
import { decodeSessionMessage, encodeSessionMessage } from './wire.js';

describe('sessions', () => {
  it('KeyedMutex runs tasks of one key one at a time, in order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string, ms: number) =>
      mutex.run('k', async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${name}`);
      });
    await Promise.all([task('a', 20), task('b', 1), mutex.run('other', async () => log.push('other'))]);
    expect(log.filter((l) => l !== 'other')).toEqual(['start a', 'end a', 'start b', 'end b']);
    expect(mutex.size).toBe(0);
    await expect(mutex.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await mutex.run('k', async () => 1)).toBe(1); // a failure does not wedge the key
  });

  it('in-memory store copies values and bounds its entries', async () => {
    const store = createInMemorySessionStore({ maxEntries: 1 });
    const value = Uint8Array.of(1, 2);
    await store.set('a', value);
    value[0] = 9;
    expect(await store.get('a')).toEqual(Uint8Array.of(1, 2));
    await expect(store.set('b', value)).rejects.toThrow(expect.objectContaining({ code: 'MS-413' }));
    await store.delete('a');
    expect(await store.get('a')).toBeUndefined();
  });

  it('session messages round-trip and truncated ones are refused', () => {
    const initial = {
      protocol: 'PQXDH' as const,
      identityKey: new Uint8Array(32).fill(1),
      ephemeralKey: new Uint8Array(32).fill(2),
      signedPrekeyId: 7,
      oneTimePrekeyId: 8,
      kem: {
        algorithm: 'ML-KEM-768' as const,
        prekeyId: 9,
        prekeyKind: 'one-time' as const,
        cipherText: new Uint8Array(1088).fill(3),
      },
    };
    const header = new Uint8Array(41);
    header[0] = 1;
    const message = { header, ciphertext: new Uint8Array(20).fill(4) };
    const bytes = encodeSessionMessage({ initial, message });
    expect(decodeSessionMessage(bytes)).toEqual({ initial, message });
    expect(decodeSessionMessage(encodeSessionMessage({ message }))).toEqual({ message });
    for (const cut of [1, 50, 100, bytes.length - 10]) {
      expect(() => decodeSessionMessage(bytes.slice(0, cut))).toThrow(
        expect.objectContaining({ code: 'MS-400' }),
      );
    }
    expect(() => decodeSessionMessage(Uint8Array.of(9, ...header))).toThrow(/unknown type/);
  });

  it('a session record round-trips and refuses corrupt or foreign state', () => {
    const spk = provider.x25519.generateKeyPair();
    const ratchet = DoubleRatchet.initiator(
      provider,
      new Uint8Array(32).fill(5),
      spk.publicKey,
      new Uint8Array(66),
    );
    const record = new SessionRecord('peer-a', [{ id: 'A'.repeat(43), ratchet, pending: undefined }]);
    const bytes = record.serialize();
    const restored = SessionRecord.deserialize(provider, bytes, 'peer-a');
    expect(restored.sessions.length).toBe(1);
    expect(() => SessionRecord.deserialize(provider, bytes, 'peer-b')).toThrow(/another peer/);
    expect(() => SessionRecord.deserialize(provider, bytes.slice(0, 40), 'peer-a')).toThrow(/corrupt/);
    const json = JSON.parse(new TextDecoder().decode(bytes));
    json.sessions[0].ratchet = 'AAAA';
    expect(() => SessionRecord.deserialize(provider, utf8ToBytes(JSON.stringify(json)), 'peer-a')).toThrow(
      expect.objectContaining({ code: 'MS-400', message: expect.stringContaining('sessions[0]') }),
    );
  });
});
