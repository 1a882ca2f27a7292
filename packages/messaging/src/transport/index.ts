/**
 * Transport: the `MessageTransport` port a client uses to reach a relay, the `RelayEndpoint`
 * port the relay serves (so it can be remote), connection proofs and the in-process transport.
 * @module
 */
export {
  connectInProcessTransport,
  type EnvelopeHandler,
  type InProcessTransportOptions,
  type MessageTransport,
  RELAY_CONNECT_DOMAIN,
  type RelayConnection,
  type RelayConnectRequest,
  type RelayDeliveryHandler,
  type RelayEndpoint,
  relayConnectProofBytes,
  type SendResult,
  type SendStatus,
} from './transport.js';
