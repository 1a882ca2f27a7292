import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeCryptoProvider } from '../crypto/node.js';
import { bytesToHex, hexToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { emptyRootHash, hashChildren, hashLeaf } from './hash.js';
import { MerkleTree } from './merkle-tree.js';
import { rootFromInclusionProof, verifyConsistency, verifyInclusion } from './verify.js';

// ---------------------------------------------------------------------------------------------
// A direct transcription of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, recursive and unoptimized,
// with its own hashing (not hash.ts), to derive the expected values.
// ---------------------------------------------------------------------------------------------

const H = (...parts: number[][]): Uint8Array => sha256(Uint8Array.from(parts.flat()));
const refLeaf = (d: Uint8Array) => H([0x00], [...d]);
const refNode = (l: Uint8Array, r: Uint8Array) => H([0x01], [...l], [...r]);

/** The largest power of two smaller than n (n > 1). */
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

// MTH is memoized by identity of the leaf data and range, so that checking every (m, n) pair
// stays fast; the recursion itself is the RFC's, unchanged.
const memo = new Map<string, Uint8Array>();
const ids = new WeakMap<Uint8Array, number>();
let nextId = 0;
const idOf = (d: Uint8Array) => {
  let id = ids.get(d);
  if (id === undefined) {
    id = nextId++;
    ids.set(d, id);
  }
  return id;
};

function MTH(D: Uint8Array[]): Uint8Array {
  const n = D.length;
  if (n === 0) return sha256(new Uint8Array(0));
  if (n === 1) return refLeaf(D[0] as Uint8Array);
  const key = D.map(idOf).join(',');
  const hit = memo.get(key);
  if (hit) return hit;
  const value = refNode(MTH(D.slice(0, k(n))), MTH(D.slice(k(n))));
  memo.set(key, value);
  return value;
}

function PATH(m: number, D: Uint8Array[]): Uint8Array[] {
  const n = D.length;
  if (n === 1) return [];
  const split = k(n);
  return m < split
    ? [...PATH(m, D.slice(0, split)), MTH(D.slice(split))]
    : [...PATH(m - split, D.slice(split)), MTH(D.slice(0, split))];
}

function SUBPROOF(m: number, D: Uint8Array[], b: boolean): Uint8Array[] {
  const n = D.length;
  if (m === n) return b ? [] : [MTH(D)];
  const split = k(n);
  return m <= split
    ? [...SUBPROOF(m, D.slice(0, split), b), MTH(D.slice(split))]
    : [...SUBPROOF(m - split, D.slice(split), false), MTH(D.slice(0, split))];
}

const PROOF = (m: number, D: Uint8Array[]) => SUBPROOF(m, D, true);

const hex = (list: readonly Uint8Array[]) => list.map(bytesToHex);

/** Leaf data i: distinct, variable-length bytes. */
const leafData = (i: number) => Uint8Array.from({ length: (i % 7) + 1 }, (_, j) => (i * 31 + j) & 0xff);

function treeOf(n: number, options = {}): { tree: MerkleTree; data: Uint8Array[] } {
  const tree = new MerkleTree(options);
  const data: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    data.push(leafData(i));
    expect(tree.appendLeaf(leafData(i))).toBe(i);
  }
  return { tree, data };
}

// The RFC 6962 reference vectors of the certificate-transparency test suites (leaves and roots
// of trees of 0..8 leaves), widely reproduced by independent implementations.
const CT_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('RFC 6962 / 9162 hashing', () => {
  it('has the well-known empty-tree root SHA-256("")', () => {
    expect(bytesToHex(emptyRootHash())).toBe(CT_ROOTS[0]);
    expect(bytesToHex(new MerkleTree().root())).toBe(CT_ROOTS[0]);
  });

  it('prefixes leaves with 0x00 and nodes with 0x01', () => {
    const a = Uint8Array.of(1, 2, 3);
    expect(hashLeaf(a)).toEqual(refLeaf(a));
    const l = new Uint8Array(32).fill(1);
    const r = new Uint8Array(32).fill(2);
    expect(hashChildren(l, r)).toEqual(refNode(l, r));
    // Domain separation: a leaf whose data is 'l ‖ r' does not collide with the node.
    expect(hashLeaf(Uint8Array.from([...l, ...r]))).not.toEqual(hashChildren(l, r));
  });

  it('reproduces the certificate-transparency reference roots for 0..8 leaves', () => {
    const tree = new MerkleTree();
    for (const leaf of CT_LEAVES) tree.appendLeaf(hexToBytes(leaf));
    for (let n = 0; n <= 8; n++) expect(bytesToHex(tree.root(n))).toBe(CT_ROOTS[n]);
    // Reference inclusion proof of leaf 0 in the tree of 8.
    expect(hex(tree.inclusionProof(0, 8))).toEqual([
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
  });

  it('matches the recursive MTH for every size 0..300, from one growing tree', () => {
    const { tree, data } = treeOf(300);
    for (let n = 0; n <= 300; n++) expect(bytesToHex(tree.root(n))).toBe(bytesToHex(MTH(data.slice(0, n))));
  });

  it('gives the same roots with a CryptoProvider hash (node:crypto) as with noble', () => {
    const a = treeOf(37).tree;
    const b = treeOf(37, { sha256: (d: Uint8Array) => nodeCryptoProvider.sha256(d) }).tree;
    for (let n = 0; n <= 37; n++) expect(b.root(n)).toEqual(a.root(n));
  });
});

describe('inclusion proofs (RFC 9162 §2.1.3)', () => {
  const N = 64;
  const { tree, data } = treeOf(N);

  it('equal PATH(m, D[n]) and verify, for every (index, size) with size <= 64', () => {
    for (let n = 1; n <= N; n++) {
      const D = data.slice(0, n);
      const root = MTH(D);
      for (let m = 0; m < n; m++) {
        const proof = tree.inclusionProof(m, n);
        expect(hex(proof)).toEqual(hex(PATH(m, D)));
        const leaf = tree.leafHash(m);
        expect(leaf).toEqual(refLeaf(D[m] as Uint8Array));
        expect(verifyInclusion(BigInt(m), BigInt(n), leaf, proof, root)).toBe(true);
        expect(rootFromInclusionProof(BigInt(m), BigInt(n), leaf, proof)).toEqual(root);
      }
    }
  });

  it('reject hostile proofs: truncated, extended, wrong size, wrong index, swapped siblings, bad leaf', () => {
    let checked = 0;
    for (let n = 1; n <= 33; n++) {
      const root = tree.root(n);
      for (let m = 0; m < n; m++) {
        const proof = tree.inclusionProof(m, n);
        const leaf = tree.leafHash(m);
        const ok = (p: Uint8Array[], i = BigInt(m), s = BigInt(n), l = leaf, r = root) =>
          verifyInclusion(i, s, l, p, r);
        if (proof.length > 0) {
          expect(ok(proof.slice(0, -1))).toBe(false); // truncated
          expect(ok(proof.slice(1))).toBe(false); // first sibling dropped
        }
        expect(ok([...proof, root])).toBe(false); // extra element
        expect(ok([...proof, new Uint8Array(32)])).toBe(false);
        // Wrong tree size, against the real root of that size. (Against the same root a size
        // can be "wrong" undetectably: proof elements are opaque, so a claimed bigger tree whose
        // extra subtree hashes to a given node cannot be told apart without a preimage.)
        expect(ok(proof, BigInt(m), BigInt(n + 1), leaf, tree.root(n + 1))).toBe(false);
        if (m < n - 1) expect(ok(proof, BigInt(m), BigInt(n - 1), leaf, tree.root(n - 1))).toBe(false);
        expect(ok(proof, BigInt(n))).toBe(false); // index == size
        expect(ok(proof, BigInt(n + 5))).toBe(false); // index > size
        if (n > 1) expect(ok(proof, BigInt((m + 1) % n))).toBe(false); // another index
        for (let j = 0; j + 1 < proof.length; j++) {
          const swapped = [...proof];
          [swapped[j], swapped[j + 1]] = [swapped[j + 1] as Uint8Array, swapped[j] as Uint8Array];
          expect(ok(swapped)).toBe(false);
        }
        const flipped = leaf.slice();
        flipped[0] = (flipped[0] as number) ^ 1;
        expect(ok(proof, BigInt(m), BigInt(n), flipped)).toBe(false);
        expect(ok(proof, BigInt(m), BigInt(n), leaf, tree.root(n === 1 ? 0 : n - 1))).toBe(false);
        checked++;
      }
    }
    expect(checked).toBe((33 * 34) / 2);
  });

  it('a proof for one tree size never verifies at another size against that size root', () => {
    for (let n = 2; n <= 40; n++) {
      for (let m = 0; m < n - 1; m++) {
        const proof = tree.inclusionProof(m, n);
        for (const other of [n - 1, n + 1]) {
          if (other < 1 || other > N || m >= other) continue;
          expect(verifyInclusion(BigInt(m), BigInt(other), tree.leafHash(m), proof, tree.root(other))).toBe(
            false,
          );
        }
      }
    }
  });

  it('rejects malformed inputs without throwing', () => {
    const leaf = tree.leafHash(0);
    const root = tree.root(2);
    const proof = tree.inclusionProof(0, 2);
    expect(verifyInclusion(0n, 2n, leaf, proof, root)).toBe(true);
    expect(verifyInclusion(-1n, 2n, leaf, proof, root)).toBe(false);
    expect(verifyInclusion(0n, 2n ** 64n, leaf, proof, root)).toBe(false);
    expect(verifyInclusion(0n, 2n, leaf.subarray(0, 31), proof, root)).toBe(false);
    expect(verifyInclusion(0n, 2n, leaf, [new Uint8Array(33)], root)).toBe(false);
    expect(verifyInclusion(0n, 2n, leaf, proof, root.subarray(1))).toBe(false);
    expect(
      verifyInclusion(
        0n,
        2n,
        leaf,
        Array.from({ length: 65 }, () => leaf),
        root,
      ),
    ).toBe(false);
    expect(verifyInclusion(0 as unknown as bigint, 2n, leaf, proof, root)).toBe(false);
    expect(verifyInclusion(0n, 2n, leaf, 'x' as unknown as Uint8Array[], root)).toBe(false);
    expect(verifyInclusion(0n, 0n, leaf, [], emptyRootHash())).toBe(false);
  });

  it('verifies proofs of huge (64-bit) tree sizes arithmetically: a lone right-edge leaf', () => {
    // The last leaf of a tree of 2^40 + 1 leaves has one sibling, the root of the first 2^40.
    const left = new Uint8Array(32).fill(9);
    const leaf = new Uint8Array(32).fill(7);
    const size = 2n ** 40n + 1n;
    const root = hashChildren(left, leaf);
    expect(verifyInclusion(size - 1n, size, leaf, [left], root)).toBe(true);
    expect(verifyInclusion(size - 2n, size, leaf, [left], root)).toBe(false);
  });
});

describe('consistency proofs (RFC 9162 §2.1.4)', () => {
  const N = 64;
  const { tree, data } = treeOf(N);

  it('equal PROOF(m, D[n]) and verify, for every 0 < m < n <= 64', () => {
    for (let n = 1; n <= N; n++) {
      const D = data.slice(0, n);
      const root = MTH(D);
      for (let m = 1; m < n; m++) {
        const proof = tree.consistencyProof(m, n);
        expect(hex(proof)).toEqual(hex(PROOF(m, D)));
        expect(verifyConsistency(BigInt(m), BigInt(n), MTH(D.slice(0, m)), root, proof)).toBe(true);
      }
    }
  });

  it('handles the edge sizes: equal sizes, the empty tree, a larger first tree', () => {
    const r5 = tree.root(5);
    expect(tree.consistencyProof(5, 5)).toEqual([]);
    expect(verifyConsistency(5n, 5n, r5, r5, [])).toBe(true);
    expect(verifyConsistency(5n, 5n, r5, tree.root(6), [])).toBe(false);
    expect(verifyConsistency(5n, 5n, r5, r5, [r5])).toBe(false);
    expect(tree.consistencyProof(0, 7)).toEqual([]);
    expect(verifyConsistency(0n, 7n, emptyRootHash(), tree.root(7), [])).toBe(true);
    expect(verifyConsistency(0n, 7n, r5, tree.root(7), [])).toBe(false);
    expect(verifyConsistency(0n, 7n, emptyRootHash(), tree.root(7), [r5])).toBe(false);
    expect(verifyConsistency(7n, 5n, tree.root(7), r5, tree.consistencyProof(5, 7))).toBe(false);
    expect(verifyConsistency(3n, 5n, tree.root(3), r5, [])).toBe(false);
  });

  it('reject hostile proofs: truncated, extended, swapped, wrong sizes, wrong roots', () => {
    for (let n = 2; n <= 40; n++) {
      for (let m = 1; m < n; m++) {
        const proof = tree.consistencyProof(m, n);
        const r1 = tree.root(m);
        const r2 = tree.root(n);
        const ok = (p: Uint8Array[], a = BigInt(m), b = BigInt(n), x = r1, y = r2) =>
          verifyConsistency(a, b, x, y, p);
        expect(ok(proof)).toBe(true);
        expect(ok(proof.slice(0, -1))).toBe(false);
        expect(ok(proof.slice(1))).toBe(false);
        expect(ok([...proof, r2])).toBe(false);
        for (let j = 0; j + 1 < proof.length; j++) {
          const swapped = [...proof];
          [swapped[j], swapped[j + 1]] = [swapped[j + 1] as Uint8Array, swapped[j] as Uint8Array];
          if (bytesToHex(swapped[j] as Uint8Array) !== bytesToHex(swapped[j + 1] as Uint8Array)) {
            expect(ok(swapped)).toBe(false);
          }
        }
        expect(ok(proof, BigInt(m), BigInt(n + 1), r1, tree.root(n + 1))).toBe(false);
        if (m + 1 < n) expect(ok(proof, BigInt(m + 1), BigInt(n), tree.root(m + 1))).toBe(false);
        expect(ok(proof, BigInt(m), BigInt(n), tree.root(m - 1))).toBe(false);
        expect(ok(proof, BigInt(m), BigInt(n), r1, tree.root(n - 1))).toBe(false);
      }
    }
  });

  it('detects a forked history: same size, different leaf', () => {
    const forked = new MerkleTree();
    for (let i = 0; i < 20; i++) forked.appendLeaf(i === 3 ? Uint8Array.of(0xff) : leafData(i));
    const proof = tree.consistencyProof(10, 20);
    expect(verifyConsistency(10n, 20n, forked.root(10), tree.root(20), proof)).toBe(false);
    expect(verifyConsistency(10n, 20n, tree.root(10), forked.root(20), proof)).toBe(false);
  });

  it('property: proofs between random sizes verify (and not against the next size root)', () => {
    const big = treeOf(700).tree;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 700 }), (a, b) => {
        const [m, n] = a <= b ? [a, b] : [b, a];
        const proof = big.consistencyProof(m, n);
        expect(verifyConsistency(BigInt(m), BigInt(n), big.root(m), big.root(n), proof)).toBe(true);
        if (m < n && n < 700) {
          expect(verifyConsistency(BigInt(m), BigInt(n + 1), big.root(m), big.root(n + 1), proof)).toBe(
            false,
          );
        }
        const i = (a * 7919) % n;
        expect(
          verifyInclusion(BigInt(i), BigInt(n), big.leafHash(i), big.inclusionProof(i, n), big.root(n)),
        ).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

describe('MerkleTree bounds and input checks', () => {
  it('rejects out-of-range sizes and indexes with PL-400', () => {
    const { tree } = treeOf(5);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return EnablementError.is(error) ? error.code : 'other';
      }
      return 'none';
    };
    expect(code(() => tree.root(6))).toBe('PL-400');
    expect(code(() => tree.inclusionProof(5, 5))).toBe('PL-400');
    expect(code(() => tree.inclusionProof(0, 6))).toBe('PL-400');
    expect(code(() => tree.inclusionProof(-1))).toBe('PL-400');
    expect(code(() => tree.inclusionProof(0.5))).toBe('PL-400');
    expect(code(() => tree.consistencyProof(4, 6))).toBe('PL-400');
    expect(code(() => tree.consistencyProof(5, 4))).toBe('PL-400');
    expect(code(() => tree.leafHash(5))).toBe('PL-400');
    expect(code(() => tree.appendLeafHash(new Uint8Array(31)))).toBe('PL-400');
    expect(code(() => tree.appendLeaf('x' as unknown as Uint8Array))).toBe('PL-400');
    expect(code(() => new MerkleTree({ maxSize: -1 }))).toBe('PL-400');
  });

  it('refuses appends beyond maxSize with a non-retryable PL-503 and keeps its state', () => {
    const tree = new MerkleTree({ maxSize: 3 });
    for (let i = 0; i < 3; i++) tree.appendLeaf(leafData(i));
    const root = tree.root();
    expect(() => tree.appendLeaf(leafData(3))).toThrow(
      expect.objectContaining({ code: 'PL-503', retryable: false }),
    );
    expect(tree.size).toBe(3);
    expect(tree.root()).toEqual(root);
  });

  it('hands out copies: mutating a returned hash does not corrupt the tree', () => {
    const { tree } = treeOf(8);
    const before = tree.root();
    tree.leafHash(0).fill(0);
    for (const h of tree.inclusionProof(3)) h.fill(0);
    tree.root(4).fill(0);
    expect(tree.root()).toEqual(before);
  });

  it('appendLeafHash and appendLeaf agree', () => {
    const a = new MerkleTree();
    const b = new MerkleTree();
    for (let i = 0; i < 19; i++) {
      a.appendLeaf(leafData(i));
      b.appendLeafHash(refLeaf(leafData(i)));
    }
    expect(a.root()).toEqual(b.root());
  });
});
