import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes, utf8ToBytes } from '../encoding/bytes.js';
import { nobleCryptoProvider } from './noble.js';
import { nodeCryptoProvider } from './node.js';
import type { AeadAlgorithm } from './provider.js';

// Known-answer tests, copied from the RFC texts (hex as printed there, spaces removed). Every
// vector runs against both providers.

const providers = [
  { name: 'noble', provider: nobleCryptoProvider },
  { name: 'node', provider: nodeCryptoProvider },
] as const;

const h = (text: string) => hexToBytes(text.replace(/[\s:]/g, ''));

/** RFC 8032 §7.1: Ed25519 TEST 1, 2, 3 and TEST SHA(abc). */
const ED25519_VECTORS = [
  {
    name: 'TEST 1 (empty message)',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2 (1 octet)',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3 (2 octets)',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST SHA(abc) (64 octets)',
    secretKey: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message: `ddaf35a193617abacc417349ae204131 12e6fa4e89a97ea20a9eeee64b55d39a
              2192992a274fc1a836ba3c23a3feebbd 454d4423643ce80e2a9ac94fa54ca49f`,
    signature: `dc2a4459e7369633a52b1bf277839a00 201009a3efbf3ecb69bea2186c26b589
                09351fc9ac90b3ecfdfbc7c66431e030 3dca179c138ac17ad9bef1177331a704`,
  },
];

/** RFC 5869 Appendix A.1–A.3 (HKDF-SHA-256). */
const HKDF_VECTORS = [
  {
    name: 'A.1 basic',
    ikm: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    salt: '000102030405060708090a0b0c',
    info: 'f0f1f2f3f4f5f6f7f8f9',
    length: 42,
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  {
    name: 'A.2 longer inputs/outputs',
    ikm: `000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
          202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f`,
    salt: `606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f
           808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf`,
    info: `b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf
           d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff`,
    length: 82,
    okm: `b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c
          59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71
          cc30c58179ec3e87c14c01d5c1f3434f1d87`,
  },
  {
    name: 'A.3 zero-length salt and info',
    ikm: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    salt: '',
    info: '',
    length: 42,
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  },
];

/** RFC 4231 §4.2–4.5: test cases 1–4, HMAC-SHA-256. */
const HMAC_VECTORS = [
  {
    name: 'test case 1',
    key: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    data: '4869205468657265', // "Hi There"
    mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  },
  {
    name: 'test case 2 (key shorter than the output)',
    key: '4a656665', // "Jefe"
    data: '7768617420646f2079612077616e7420666f72206e6f7468696e673f', // "what do ya want for nothing?"
    mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  },
  {
    name: 'test case 3 (combined length of key and data > 64)',
    key: 'aa'.repeat(20),
    data: 'dd'.repeat(50),
    mac: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
  },
  {
    name: 'test case 4 (combined length of key and data > 64)',
    key: '0102030405060708090a0b0c0d0e0f10111213141516171819',
    data: 'cd'.repeat(50),
    mac: '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
  },
];

/** RFC 8439 §2.8.2 (AEAD_CHACHA20_POLY1305) and the GCM specification's test case 16 (AES-256-GCM). */
const AEAD_VECTORS: {
  name: string;
  algorithm: AeadAlgorithm;
  key: string;
  nonce: string;
  plaintext: string;
  aad: string;
  ciphertext: string;
  tag: string;
}[] = [
  {
    name: 'RFC 8439 §2.8.2',
    algorithm: 'chacha20-poly1305',
    key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
    // 32-bit fixed-common part 07000000 ‖ IV 4041424344454647
    nonce: '070000004041424344454647',
    plaintext: bytesToHex(
      utf8ToBytes(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
      ),
    ),
    aad: '50515253c0c1c2c3c4c5c6c7',
    ciphertext: `d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6
                 3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36
                 92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc
                 3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b 61 16`,
    tag: '1a:e1:0b:59:4f:09:e2:6a:7e:90:2e:cb:d0:60:06:91',
  },
  {
    name: 'GCM spec test case 16 (McGrew & Viega)',
    algorithm: 'aes-256-gcm',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    nonce: 'cafebabefacedbaddecaf888',
    plaintext: `d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39`,
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    ciphertext: `522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662`,
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

describe.each(providers)('known-answer tests: $name provider', ({ provider }) => {
  describe('Ed25519 (RFC 8032 §7.1)', () => {
    it.each(ED25519_VECTORS)('$name', (v) => {
      const secretKey = h(v.secretKey);
      const message = h(v.message);
      expect(bytesToHex(provider.ed25519.publicKey(secretKey))).toBe(v.publicKey);
      expect(bytesToHex(provider.ed25519.generateKeyPair(secretKey).publicKey)).toBe(v.publicKey);
      expect(bytesToHex(provider.ed25519.sign(secretKey, message))).toBe(bytesToHex(h(v.signature)));
      expect(provider.ed25519.verify(h(v.publicKey), message, h(v.signature))).toBe(true);
      // The same signature over another message, or under another key, must not verify.
      expect(provider.ed25519.verify(h(v.publicKey), Uint8Array.of(...message, 0), h(v.signature))).toBe(
        false,
      );
      const otherKey = h(ED25519_VECTORS[(ED25519_VECTORS.indexOf(v) + 1) % 4]?.publicKey ?? '');
      expect(provider.ed25519.verify(otherKey, message, h(v.signature))).toBe(false);
    });
  });

  describe('X25519 (RFC 7748)', () => {
    it('§5.2 test vector 1', () => {
      const k = h('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4');
      const u = h('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c');
      expect(bytesToHex(provider.x25519.sharedSecret(k, u))).toBe(
        'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
      );
    });

    it('§5.2 test vector 2 (input u has its top bit set, which must be masked)', () => {
      const k = h('4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d');
      const u = h('e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493');
      expect(bytesToHex(provider.x25519.sharedSecret(k, u))).toBe(
        '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
      );
    });

    it('§5.2 iterated: 1 and 1,000 iterations', () => {
      let k: Uint8Array = h('0900000000000000000000000000000000000000000000000000000000000000');
      let u: Uint8Array = k.slice();
      for (let i = 1; i <= 1000; i++) {
        const next = provider.x25519.sharedSecret(k, u);
        u = k;
        k = next;
        if (i === 1) {
          expect(bytesToHex(k)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
        }
      }
      expect(bytesToHex(k)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
    });

    it('§6.1 Diffie-Hellman', () => {
      const alice = h('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
      const bob = h('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
      const alicePublic = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
      const bobPublic = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
      const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
      expect(bytesToHex(provider.x25519.publicKey(alice))).toBe(alicePublic);
      expect(bytesToHex(provider.x25519.generateKeyPair(bob).publicKey)).toBe(bobPublic);
      expect(bytesToHex(provider.x25519.sharedSecret(alice, h(bobPublic)))).toBe(shared);
      expect(bytesToHex(provider.x25519.sharedSecret(bob, h(alicePublic)))).toBe(shared);
    });
  });

  describe('HKDF-SHA-256 (RFC 5869 Appendix A)', () => {
    it.each(HKDF_VECTORS)('$name', (v) => {
      const okm = provider.hkdfSha256(h(v.ikm), h(v.salt), h(v.info), v.length);
      expect(okm).toHaveLength(v.length);
      expect(bytesToHex(okm)).toBe(bytesToHex(h(v.okm)));
    });
  });

  describe('HMAC-SHA-256 (RFC 4231)', () => {
    it.each(HMAC_VECTORS)('$name', (v) => {
      expect(bytesToHex(provider.hmacSha256(h(v.key), h(v.data)))).toBe(v.mac);
    });
  });

  describe('SHA-2 (FIPS 180-4 "abc")', () => {
    it('SHA-256 and SHA-512 of "abc"', () => {
      const abc = utf8ToBytes('abc');
      expect(bytesToHex(provider.sha256(abc))).toBe(
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      );
      // RFC 8032's TEST SHA(abc) message is exactly this digest.
      expect(bytesToHex(provider.sha512(abc))).toBe(bytesToHex(h(ED25519_VECTORS[3]?.message ?? '')));
    });
  });

  describe('AEAD', () => {
    it.each(AEAD_VECTORS)('$name: seal gives ciphertext ‖ tag, open gives the plaintext back', (v) => {
      const sealed = provider.aead.seal(v.algorithm, h(v.key), h(v.nonce), h(v.plaintext), h(v.aad));
      expect(bytesToHex(sealed)).toBe(bytesToHex(h(v.ciphertext)) + bytesToHex(h(v.tag)));
      const opened = provider.aead.open(v.algorithm, h(v.key), h(v.nonce), sealed, h(v.aad));
      expect(bytesToHex(opened)).toBe(bytesToHex(h(v.plaintext)));
    });

    it.each(AEAD_VECTORS)('$name: the vector does not open under other associated data', (v) => {
      const sealed = h(v.ciphertext + v.tag);
      expect(() => provider.aead.open(v.algorithm, h(v.key), h(v.nonce), sealed)).toThrow(
        expect.objectContaining({ code: 'PL-401' }),
      );
    });
  });
});
