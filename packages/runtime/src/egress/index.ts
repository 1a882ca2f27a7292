/**
 * Egress: the sandbox's own host lists (`allowOut` / `denyOut`, which only narrow authz), URL
 * validation and the bounded `fetch` the egress capability performs once authz allowed it
 * (spec §3.2).
 * @module
 */
export {
  DEFAULT_EGRESS_LIMITS,
  type EgressLimits,
  type EgressTarget,
  egressRequestBodyBytes,
  type FetchFunction,
  MAX_EGRESS_HEADER_BYTES,
  MAX_EGRESS_HEADERS,
  MAX_EGRESS_URL_LENGTH,
  parseEgressTarget,
  performEgress,
} from './fetch.js';
export { MAX_HOST_LENGTH, MAX_NETWORK_RULES, type NetworkPolicy, normalizeHost } from './hosts.js';
