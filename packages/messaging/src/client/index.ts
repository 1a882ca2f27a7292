/**
 * The messaging client: PQXDH sessions over the NHI prekey directory, Double Ratchet per peer,
 * envelopes, persistence in a `SessionStore`, receipts.
 * @module
 */
export {
  createMessagingClient,
  type MessagingClient,
  type MessagingClientOptions,
  type ReceivedMessage,
  type SendOptions,
} from './client.js';
