import { bytesToHex, hexToBytes, nobleCryptoProvider } from '@creto/core';
import { nodeCryptoProvider } from '@creto/core/crypto/node';
import { describe, expect, it } from 'vitest';
import { encodeHeader } from './header.js';
import {
  kdfChainKey,
  kdfRootKey,
  messageKeyMaterial,
  PQXDH_INFO_ML_KEM_768,
  pqxdhKdf,
  sealWithMessageKey,
} from './kdf.js';

// Known-answer tests: fixed inputs → fixed outputs, checked in. They pin our byte formats (info
// strings, constants, split points, header layout): if one of these fails, peers running the
// previous code can no longer talk to this one.
const seq = (start: number, length = 32) => Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);

const KAT = {
  pqxdh: 'e947838a98f9b533c6d4a30b3fe7d2c0e2eb8cabdc87e3542330185ed924a0c7',
  rootKey:
    '4a810fd322698b1dac464d9da4c929251ff80df499f10bc533fce564e7728cab4b7a75eff0cbdfd884c5ff507d63ffe385fb83c3a395afb1616e59edf7994b4a',
  chainKey: '9fbb66a0538e9e3a807ec6f044215751e8d20c7f626708f56d236e55c988c1d5',
  messageKey: '2854192018d466ee624c34d87cc0e70180dce87c58a9fa367fc7447338fb850d',
  aeadKey: '4142055d86b62708deeeced84faceb2a984ac0d90f89f3643859690f0257857a',
  aeadNonce: 'bb0bc494b98af492bd5e2d8e',
  header: '010708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425260000010201020304',
  sealed: '6227fb77d2614cbd81cff0ccc59350ba5cf6ded28fe1f330953ca9d50258845248c7028a',
};

const compute = (provider = nobleCryptoProvider) => {
  const root = kdfRootKey(provider, seq(0), seq(100));
  const chain = kdfChainKey(provider, seq(200));
  const material = messageKeyMaterial(provider, seq(50));
  const header = encodeHeader({ dh: seq(7), pn: 258, n: 0x01020304 });
  return {
    pqxdh: bytesToHex(pqxdhKdf(provider, seq(1, 32 * 4 + 32), PQXDH_INFO_ML_KEM_768)),
    rootKey: bytesToHex(root.rootKey) + bytesToHex(root.chainKey),
    chainKey: bytesToHex(chain.chainKey),
    messageKey: bytesToHex(chain.messageKey),
    aeadKey: bytesToHex(material.key),
    aeadNonce: bytesToHex(material.nonce),
    header: bytesToHex(header),
    sealed: bytesToHex(sealWithMessageKey(provider, 'chacha20-poly1305', seq(50), seq(9, 20), header)),
  };
};

describe('KDF known answers', () => {
  it('pins PQXDH KDF, KDF_RK, KDF_CK, message-key expansion, header and AEAD bytes', () => {
    expect(compute()).toEqual(KAT);
  });

  it('gives the same bytes with the node provider', () => {
    expect(compute(nodeCryptoProvider)).toEqual(KAT);
  });

  it('KDF_CK uses HMAC(ck, 0x01) for the message key and HMAC(ck, 0x02) for the next chain key', () => {
    const ck = seq(200);
    const out = kdfChainKey(nobleCryptoProvider, ck);
    expect(out.messageKey).toEqual(nobleCryptoProvider.hmacSha256(ck, Uint8Array.of(1)));
    expect(out.chainKey).toEqual(nobleCryptoProvider.hmacSha256(ck, Uint8Array.of(2)));
  });

  it('PQXDH KDF prepends F = 32 0xFF bytes with a zero salt (PQXDH §2.2)', () => {
    const km = seq(3, 64);
    const manual = nobleCryptoProvider.hkdfSha256(
      new Uint8Array([...new Uint8Array(32).fill(0xff), ...km]),
      new Uint8Array(32),
      new TextEncoder().encode('Creto_CURVE25519_SHA-256_ML-KEM-768'),
      32,
    );
    expect(pqxdhKdf(nobleCryptoProvider, km, PQXDH_INFO_ML_KEM_768)).toEqual(manual);
    expect(hexToBytes(KAT.header).length).toBe(41);
  });
});
