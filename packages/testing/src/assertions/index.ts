/**
 * Assertions: `expectEnablementError` and `expectEnablementRejection` check that a call fails
 * with an `EnablementError` of a given code (and message), and return the error;
 * `errorCodeOf` and `rejectionCodeOf` return the code for tables of cases. They import no test
 * runner.
 * @module
 */
export {
  errorCodeOf,
  expectEnablementError,
  expectEnablementRejection,
  type MessageExpectation,
  rejectionCodeOf,
} from './assertions.js';
