/**
 * Assertions: `expectEnablementError` and `expectEnablementRejection` check that a call fails
 * with an `EnablementError` of a given code (and message), and return the error. They import no
 * test runner.
 * @module
 */
export {
  expectEnablementError,
  expectEnablementRejection,
  type MessageExpectation,
} from './assertions.js';
