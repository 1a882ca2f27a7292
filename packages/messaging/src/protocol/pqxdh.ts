import {
  type CryptoProvider,
  concatBytes,
  EnablementError,
  type KemAlgorithm,
  type KeyBundle,
  type KeyPair,
  verifyKeyBundle,
  zeroize,
} from '@creto/core';
import { encodeEc } from './identity-keys.js';
import { PQXDH_INFO_ML_KEM_768, PQXDH_INFO_ML_KEM_1024, pqxdhKdf, X3DH_INFO } from './kdf.js';

/**
 * X3DH and PQXDH key agreement (Signal, "The X3DH Key Agreement Protocol" rev. 1 and "The PQXDH
 * Key Agreement Protocol" rev. 3). PQXDH is X3DH plus one KEM encapsulation whose shared secret
 * is appended to the DH outputs (PQXDH §3.3). Running without the KEM step is a downgrade and is
 * refused unless the caller's policy explicitly allows it (`allowX3dhFallback`), with `MS-403`.
 */

/** Which agreement was run; part of the initial message, and it selects the HKDF info string. */
export type KeyAgreementProtocol = 'PQXDH' | 'X3DH';

/** Which KEM prekey slot the initiator used (PQXDH §2.4: one-time or last-resort). */
export type KemPrekeyKind = 'one-time' | 'last-resort';

/** A public prekey with the id the initiator names back. */
export interface PublicPrekey {
  /** Unsigned 32-bit id. */
  readonly id: number;
  /** Public key bytes (X25519, or an ML-KEM encapsulation key). */
  readonly publicKey: Uint8Array;
}

/** The responder's KEM prekey as the initiator sees it. */
export interface PublicKemPrekey extends PublicPrekey {
  /** One-time (`PQOPK_B`) or last-resort (`PQSPK_B`). */
  readonly kind: KemPrekeyKind;
  /** ML-KEM parameter set; default ML-KEM-768. */
  readonly algorithm?: KemAlgorithm;
}

/** What the initial message carries so the responder can run its half (PQXDH §3.3). */
export interface InitialKeyAgreement {
  /** Which agreement the initiator ran. */
  readonly protocol: KeyAgreementProtocol;
  /** Initiator's X25519 identity key `IK_A`. */
  readonly identityKey: Uint8Array;
  /** Initiator's ephemeral X25519 key `EK_A`. */
  readonly ephemeralKey: Uint8Array;
  /** Id of the responder's signed prekey `SPK_B`. */
  readonly signedPrekeyId: number;
  /** Id of the responder's one-time prekey `OPK_B`, when one was used. */
  readonly oneTimePrekeyId?: number;
  /** The KEM step, absent for X3DH. */
  readonly kem?: {
    /** ML-KEM parameter set. */
    readonly algorithm: KemAlgorithm;
    /** Id of the KEM prekey. */
    readonly prekeyId: number;
    /** Which KEM prekey slot. */
    readonly prekeyKind: KemPrekeyKind;
    /** The encapsulation `CT`. */
    readonly cipherText: Uint8Array;
  };
}

/** The agreed secret and associated data. */
export interface KeyAgreementResult {
  /** The 32-byte shared key `SK`; the caller owns it and should zeroize it once the ratchet is seeded. */
  readonly sharedSecret: Uint8Array;
  /** `AD = EncodeEC(IK_A) ‖ EncodeEC(IK_B)` (PQXDH §3.3), bound into every message's AEAD. */
  readonly associatedData: Uint8Array;
}

/** Output of `X3DH.initiate`. */
export interface InitiatorResult extends KeyAgreementResult {
  /** What to send to the responder with the first message. */
  readonly initial: InitialKeyAgreement;
}

/** Input of `X3DH.initiate`. */
export interface InitiateInput {
  /** Crypto implementation. */
  readonly provider: CryptoProvider;
  /** Initiator's X25519 identity key pair `IK_A`. */
  readonly identityKey: KeyPair;
  /** Responder's X25519 identity public key `IK_B`. */
  readonly peerIdentityKey: Uint8Array;
  /** Responder's signed prekey `SPK_B` (signature already verified by the caller). */
  readonly signedPrekey: PublicPrekey;
  /** Responder's one-time prekey `OPK_B`, when the directory had one. */
  readonly oneTimePrekey?: PublicPrekey;
  /** Responder's KEM prekey; absent means the peer offers none (X3DH only, if allowed). */
  readonly kemPrekey?: PublicKemPrekey;
  /** Allow X3DH without a KEM prekey; default `false` (`MS-403`): downgrade is never silent. */
  readonly allowX3dhFallback?: boolean;
  /** Ephemeral key pair `EK_A`; default fresh from the provider (set only for known-answer tests). */
  readonly ephemeralKey?: KeyPair;
}

/** Input of `X3DH.respond`. */
export interface RespondInput {
  /** Crypto implementation. */
  readonly provider: CryptoProvider;
  /** Responder's X25519 identity key pair `IK_B`. */
  readonly identityKey: KeyPair;
  /** The initial message's key-agreement part. */
  readonly initial: InitialKeyAgreement;
  /** The secret of the signed prekey named by `initial.signedPrekeyId`. */
  readonly signedPrekey: KeyPair;
  /** The secret of the one-time prekey named by `initial.oneTimePrekeyId`, when named. */
  readonly oneTimePrekey?: KeyPair;
  /** The secret key of the KEM prekey named by `initial.kem`, when present. */
  readonly kemSecretKey?: Uint8Array;
  /** Accept an X3DH (no KEM) initial message; default `false` (`MS-403`). */
  readonly allowX3dhFallback?: boolean;
}

const KEM_CIPHERTEXT_LENGTH: Readonly<Record<KemAlgorithm, number>> = {
  'ML-KEM-768': 1088,
  'ML-KEM-1024': 1568,
};

/** The HKDF info string of a protocol and KEM (PQXDH §2.1). */
export function keyAgreementInfo(
  protocol: KeyAgreementProtocol,
  algorithm: KemAlgorithm = 'ML-KEM-768',
): string {
  if (protocol === 'X3DH') return X3DH_INFO;
  return algorithm === 'ML-KEM-1024' ? PQXDH_INFO_ML_KEM_1024 : PQXDH_INFO_ML_KEM_768;
}

function checkKey(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== 32) {
    throw new EnablementError('MS-400', `${field}: expected a 32-byte X25519 public key`);
  }
  return value;
}

function checkId(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new EnablementError('MS-400', `${field}: expected an unsigned 32-bit integer`);
  }
  return value;
}

function downgrade(): EnablementError {
  return new EnablementError(
    'MS-403',
    'peer offers no ML-KEM prekey: X3DH without the post-quantum step is refused (set allowX3dhFallback to permit the downgrade)',
  );
}

/** Runs every DH, then the KDF; the DH outputs are wiped. */
function derive(
  provider: CryptoProvider,
  dhs: readonly Uint8Array[],
  kemSecret: Uint8Array | undefined,
  info: string,
): Uint8Array {
  const material = concatBytes(...dhs, ...(kemSecret ? [kemSecret] : []));
  try {
    return pqxdhKdf(provider, material, info);
  } finally {
    zeroize(material, ...dhs, kemSecret);
  }
}

/**
 * X3DH / PQXDH as standalone building blocks. The messaging client uses them through sessions;
 * they are exported so a host can run the agreement over its own transport.
 */
export const X3DH = Object.freeze({
  /**
   * Initiator side (PQXDH §3.3): `DH1 = DH(IK_A, SPK_B)`, `DH2 = DH(EK_A, IK_B)`,
   * `DH3 = DH(EK_A, SPK_B)`, `DH4 = DH(EK_A, OPK_B)` when present, `(CT, SS) = ENCAPS(PQPK_B)`,
   * `SK = KDF(DH1 ‖ DH2 ‖ DH3 [‖ DH4] ‖ SS)`. The caller must have verified the prekey
   * signatures (`X3DH.initiateFromBundle` does).
   */
  initiate(input: InitiateInput): InitiatorResult {
    const { provider, identityKey } = input;
    const peerIdentity = checkKey(input.peerIdentityKey, 'peerIdentityKey');
    const spk = checkKey(input.signedPrekey.publicKey, 'signedPrekey.publicKey');
    const spkId = checkId(input.signedPrekey.id, 'signedPrekey.id');
    if (input.kemPrekey === undefined && input.allowX3dhFallback !== true) throw downgrade();
    const ephemeral = input.ephemeralKey ?? provider.x25519.generateKeyPair();
    const dhs = [
      provider.x25519.sharedSecret(identityKey.secretKey, spk),
      provider.x25519.sharedSecret(ephemeral.secretKey, peerIdentity),
      provider.x25519.sharedSecret(ephemeral.secretKey, spk),
    ];
    let oneTimePrekeyId: number | undefined;
    if (input.oneTimePrekey !== undefined) {
      oneTimePrekeyId = checkId(input.oneTimePrekey.id, 'oneTimePrekey.id');
      dhs.push(
        provider.x25519.sharedSecret(
          ephemeral.secretKey,
          checkKey(input.oneTimePrekey.publicKey, 'oneTimePrekey.publicKey'),
        ),
      );
    }
    let kem: InitialKeyAgreement['kem'];
    let kemSecret: Uint8Array | undefined;
    const algorithm = input.kemPrekey?.algorithm ?? 'ML-KEM-768';
    if (input.kemPrekey !== undefined) {
      const encapsulation = provider.mlKem.encapsulate(input.kemPrekey.publicKey, algorithm);
      kemSecret = encapsulation.sharedSecret;
      kem = {
        algorithm,
        prekeyId: checkId(input.kemPrekey.id, 'kemPrekey.id'),
        prekeyKind: input.kemPrekey.kind,
        cipherText: encapsulation.cipherText,
      };
    }
    const protocol: KeyAgreementProtocol = kem ? 'PQXDH' : 'X3DH';
    const sharedSecret = derive(provider, dhs, kemSecret, keyAgreementInfo(protocol, algorithm));
    if (input.ephemeralKey === undefined) zeroize(ephemeral.secretKey);
    const initial: InitialKeyAgreement = {
      protocol,
      identityKey: identityKey.publicKey.slice(),
      ephemeralKey: ephemeral.publicKey.slice(),
      signedPrekeyId: spkId,
      ...(oneTimePrekeyId !== undefined ? { oneTimePrekeyId } : {}),
      ...(kem ? { kem } : {}),
    };
    return {
      sharedSecret,
      associatedData: concatBytes(encodeEc(identityKey.publicKey), encodeEc(peerIdentity)),
      initial,
    };
  },

  /**
   * Verifies every prekey signature of an NHI key bundle (`verifyKeyBundle` of `@creto/core`,
   * `PL-401` on failure) before using it, maps the Ed25519 identity to X25519, then
   * `X3DH.initiate`s. The NHI directory always hands out an ML-KEM-768 prekey (one-time, or
   * the last-resort one when none is left), so a bundle always yields PQXDH.
   */
  initiateFromBundle(
    input: Omit<InitiateInput, 'peerIdentityKey' | 'signedPrekey' | 'oneTimePrekey' | 'kemPrekey'> & {
      /** The bundle from `NhiClient.getKeyBundle`. */
      readonly bundle: KeyBundle;
    },
  ): InitiatorResult {
    const { bundle, ...rest } = input;
    verifyKeyBundle(bundle, input.provider);
    return X3DH.initiate({
      ...rest,
      peerIdentityKey: bundle.identity.x25519PublicKey(),
      signedPrekey: bundle.signedPrekey,
      ...(bundle.oneTimePrekey ? { oneTimePrekey: bundle.oneTimePrekey } : {}),
      kemPrekey: {
        id: bundle.kemPrekey.id,
        publicKey: bundle.kemPrekey.publicKey,
        kind: bundle.kemPrekeyKind === 'ml-kem-768-one-time' ? 'one-time' : 'last-resort',
        algorithm: 'ML-KEM-768',
      },
    });
  },

  /**
   * Responder side: recomputes the same DHs with its secrets and decapsulates `CT`. The caller
   * looks the prekey secrets up by the ids in `initial` and deletes the one-time ones afterwards.
   * A tampered `CT` yields an unrelated `SK` (ML-KEM implicit rejection), so the first message's
   * AEAD fails with `MS-004`.
   */
  respond(input: RespondInput): KeyAgreementResult {
    const { provider, identityKey, initial } = input;
    const peerIdentity = checkKey(initial.identityKey, 'initial.identityKey');
    const ephemeral = checkKey(initial.ephemeralKey, 'initial.ephemeralKey');
    if (initial.protocol !== 'PQXDH' && initial.protocol !== 'X3DH') {
      throw new EnablementError('MS-400', 'initial.protocol: expected PQXDH or X3DH');
    }
    if ((initial.protocol === 'PQXDH') !== (initial.kem !== undefined)) {
      throw new EnablementError('MS-400', 'initial.kem: must be present exactly for PQXDH');
    }
    if (initial.protocol === 'X3DH' && input.allowX3dhFallback !== true) throw downgrade();
    const dhs = [
      provider.x25519.sharedSecret(input.signedPrekey.secretKey, peerIdentity),
      provider.x25519.sharedSecret(identityKey.secretKey, ephemeral),
      provider.x25519.sharedSecret(input.signedPrekey.secretKey, ephemeral),
    ];
    if (initial.oneTimePrekeyId !== undefined) {
      if (input.oneTimePrekey === undefined) {
        zeroize(...dhs);
        throw new EnablementError('MS-400', 'oneTimePrekey: the initial message names one, none was given');
      }
      dhs.push(provider.x25519.sharedSecret(input.oneTimePrekey.secretKey, ephemeral));
    }
    let kemSecret: Uint8Array | undefined;
    const algorithm = initial.kem?.algorithm ?? 'ML-KEM-768';
    if (initial.kem !== undefined) {
      const expected = KEM_CIPHERTEXT_LENGTH[algorithm];
      if (
        expected === undefined ||
        !(initial.kem.cipherText instanceof Uint8Array) ||
        initial.kem.cipherText.length !== expected ||
        input.kemSecretKey === undefined
      ) {
        zeroize(...dhs);
        throw new EnablementError('MS-400', 'initial.kem: bad cipher text length or no KEM secret key');
      }
      kemSecret = provider.mlKem.decapsulate(initial.kem.cipherText, input.kemSecretKey, algorithm);
    }
    const sharedSecret = derive(provider, dhs, kemSecret, keyAgreementInfo(initial.protocol, algorithm));
    return {
      sharedSecret,
      associatedData: concatBytes(encodeEc(peerIdentity), encodeEc(identityKey.publicKey)),
    };
  },
});
