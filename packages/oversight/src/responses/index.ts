/**
 * Approver responses: the canonical signed `ApprovalResponse`, its signing bytes, wire codec, a
 * signing helper for approver UIs and bots, and verification against the NHI registry.
 * @module
 */
export {
  APPROVAL_DECISIONS,
  APPROVAL_NONCE_LENGTHS,
  APPROVAL_RESPONSE_SIGNING_DOMAIN,
  type ApprovalDecisionValue,
  type ApprovalResponse,
  type ApprovalResponseInput,
  type ApprovalResponseWire,
  approvalResponseSigningBytes,
  decodeApprovalResponse,
  ED25519_SIGNATURE_LENGTH,
  encodeApprovalResponse,
  MAX_APPROVAL_REASON_LENGTH,
  type PreparedApprovalResponse,
  parseSignedApprovalResponse,
  prepareApprovalResponse,
  type SignApprovalResponseOptions,
  type SignedApprovalResponse,
  type SignedApprovalResponseWire,
  signApprovalResponse,
  verifyApprovalResponse,
} from './response.js';
