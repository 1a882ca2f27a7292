import { z } from 'zod';
import type { SqlClient } from './client.js';

/** zod schema of a `client` option: anything shaped like a {@link SqlClient}. */
export const sqlClientSchema = z.custom<SqlClient>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SqlClient).query === 'function' &&
    typeof (value as SqlClient).transaction === 'function',
  { error: 'expected a SqlClient' },
);
