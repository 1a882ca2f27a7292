import {
  EnablementError,
  type IncompleteSaga,
  parseOptions,
  SAGA_LOG_RECORD_TYPES,
  type SagaLog,
  type SagaLogRecord,
} from '@creto/core';
import { z } from 'zod';
import type { SqlClient } from '../sql/client.js';
import { sqlClientSchema } from '../sql/client-schema.js';
import { DEFAULT_SCHEMA, qualified, quoteSchema, schemaNameSchema } from '../sql/identifiers.js';
import { assertStorableText } from '../sql/text.js';

/** Default {@link PostgresSagaLogOptions.maxSagas}, as core's in-memory log. */
export const DEFAULT_POSTGRES_MAX_SAGAS = 10_000;
/** Default {@link PostgresSagaLogOptions.maxRecordsPerSaga}, as core's in-memory log. */
export const DEFAULT_POSTGRES_MAX_RECORDS_PER_SAGA = 1_000;
/** Default {@link PostgresSagaLogOptions.maxRecordLength}: 1 Mi characters of JSON. */
export const DEFAULT_POSTGRES_MAX_SAGA_RECORD_LENGTH = 1_048_576;
/** Longest saga id or saga name accepted. */
export const MAX_SAGA_ID_LENGTH = 256;

/** Options of {@link createPostgresSagaLog}. */
export interface PostgresSagaLogOptions {
  /** The database (`createPgClient` or `createPGliteClient`), migrated with `migrate`. */
  readonly client: SqlClient;
  /** Schema holding the tables ({@link DEFAULT_SCHEMA} by default). */
  readonly schema?: string;
  /** Most unfinished runs kept; a new run beyond it is refused with `PL-503`. Default 10 000. */
  readonly maxSagas?: number;
  /** Most records per run; more is refused with `PL-500` (a run loops). Default 1 000. */
  readonly maxRecordsPerSaga?: number;
  /** Longest record, as JSON text; longer is refused with `PL-400`. Default 1 Mi characters. */
  readonly maxRecordLength?: number;
}

const optionsSchema = z.strictObject({
  client: sqlClientSchema,
  schema: schemaNameSchema.optional(),
  maxSagas: z.number().int().min(1).optional(),
  maxRecordsPerSaga: z.number().int().min(1).max(1_000_000).optional(),
  maxRecordLength: z.number().int().min(64).max(268_435_456).optional(),
});

const WHAT = 'saga log';

type RecordRow = { saga_id: string; saga_name: string; record: string };
type CountRow = { record_count: number };

/** JSON text of `record`; `PL-400` for what JSON cannot hold (a bigint, a cycle). */
function toJsonText(record: SagaLogRecord, max: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(record);
  } catch (cause) {
    throw new EnablementError('PL-400', 'saga log record is not JSON', { cause });
  }
  if (typeof text !== 'string') throw new EnablementError('PL-400', 'saga log record is not JSON');
  if (text.length > max) {
    throw new EnablementError('PL-400', `saga log record is longer than ${max} characters of JSON`);
  }
  return text;
}

/**
 * A durable `SagaLog` (spec §9.1) in PostgreSQL or PGlite, with the contract of core's in-memory
 * log: records of a run in append order, a second `saga_started` for a live run → `PL-409`, a
 * record for an unknown run → `PL-404`, a finished run deleted (so `loadIncomplete` forgets it),
 * JSON copies in and out. `append` resolves only once its transaction has committed, so a
 * resolved append survives a crash of this process; a failed one leaves nothing behind.
 *
 * Runs live in `<schema>.saga_runs` (with a record counter that serialises appends to one run
 * across processes) and records in `<schema>.saga_records`, as JSON text exactly as serialized.
 * Bounded like the in-memory log: `maxSagas` unfinished runs (`PL-503`), `maxRecordsPerSaga`
 * records per run (`PL-500`), plus `maxRecordLength` per record (`PL-400`).
 *
 * @example
 * ```ts
 * const saga = createSaga({ name: 'provision_agent', steps, log: createPostgresSagaLog({ client }) });
 * await saga.recover(); // on startup: finish what a crashed process left
 * ```
 */
export function createPostgresSagaLog(options: PostgresSagaLogOptions): SagaLog {
  const parsed = parseOptions(optionsSchema, options, 'createPostgresSagaLog');
  const { client } = parsed;
  const maxSagas = parsed.maxSagas ?? DEFAULT_POSTGRES_MAX_SAGAS;
  const maxRecords = parsed.maxRecordsPerSaga ?? DEFAULT_POSTGRES_MAX_RECORDS_PER_SAGA;
  const maxRecordLength = parsed.maxRecordLength ?? DEFAULT_POSTGRES_MAX_SAGA_RECORD_LENGTH;
  const schema = quoteSchema(parsed.schema ?? DEFAULT_SCHEMA);
  const runs = qualified(schema, 'saga_runs');
  const records = qualified(schema, 'saga_records');

  async function start(sagaId: string, sagaName: string, text: string): Promise<void> {
    await client.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO ${runs} (saga_id, saga_name, record_count) VALUES ($1, $2, 1) ON CONFLICT (saga_id) DO NOTHING`,
        [sagaId, sagaName],
      );
      if (inserted.rowCount !== 1) {
        throw new EnablementError('PL-409', `saga log: run '${sagaId}' already exists`);
      }
      // Counted after the insert, inside the transaction: two processes starting runs at once
      // may both see the other's row only after commit, so the bound can be passed by the number
      // of concurrent starters, never more.
      const { rows } = await tx.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${runs}`);
      if ((rows[0]?.n ?? 0n) > BigInt(maxSagas)) {
        throw new EnablementError('PL-503', `saga log full: ${maxSagas} unfinished runs`);
      }
      await tx.query(`INSERT INTO ${records} (saga_id, seq, record) VALUES ($1, 0, $2)`, [sagaId, text]);
    });
  }

  async function add(sagaId: string, text: string): Promise<void> {
    await client.transaction(async (tx) => {
      // The row lock taken by this UPDATE orders concurrent appends to one run.
      const { rows } = await tx.query<CountRow>(
        `UPDATE ${runs} SET record_count = record_count + 1 WHERE saga_id = $1 RETURNING record_count`,
        [sagaId],
      );
      const count = rows[0]?.record_count;
      if (count === undefined) throw new EnablementError('PL-404', `saga log: no unfinished run '${sagaId}'`);
      if (count > maxRecords) {
        throw new EnablementError('PL-500', `saga log: run '${sagaId}' exceeds ${maxRecords} records`);
      }
      await tx.query(`INSERT INTO ${records} (saga_id, seq, record) VALUES ($1, $2, $3)`, [
        sagaId,
        count - 1,
        text,
      ]);
    });
  }

  async function finish(sagaId: string): Promise<void> {
    // Records go with the run (ON DELETE CASCADE), in the same statement.
    const deleted = await client.query(`DELETE FROM ${runs} WHERE saga_id = $1`, [sagaId]);
    if (deleted.rowCount !== 1)
      throw new EnablementError('PL-404', `saga log: no unfinished run '${sagaId}'`);
  }

  return Object.freeze({
    async append(record: SagaLogRecord): Promise<void> {
      if (
        typeof record !== 'object' ||
        record === null ||
        !SAGA_LOG_RECORD_TYPES.includes(record.type) ||
        typeof record.sagaId !== 'string'
      ) {
        throw new EnablementError('PL-400', 'saga log record: expected { type, sagaId, … }');
      }
      assertStorableText(record.sagaId, 'sagaId', { max: MAX_SAGA_ID_LENGTH, code: 'PL-400', what: WHAT });
      const text = toJsonText(record, maxRecordLength);
      if (record.type === 'saga_started') {
        assertStorableText(record.sagaName, 'sagaName', {
          max: MAX_SAGA_ID_LENGTH,
          code: 'PL-400',
          what: WHAT,
        });
        return start(record.sagaId, record.sagaName, text);
      }
      if (record.type === 'saga_finished') return finish(record.sagaId);
      return add(record.sagaId, text);
    },

    async loadIncomplete(sagaName: string): Promise<IncompleteSaga[]> {
      assertStorableText(sagaName, 'sagaName', { max: MAX_SAGA_ID_LENGTH, code: 'PL-400', what: WHAT });
      // One statement, one snapshot: a run and its records are read consistently.
      const { rows } = await client.query<RecordRow>(
        `SELECT r.saga_id, r.saga_name, c.record
           FROM ${runs} r JOIN ${records} c ON c.saga_id = r.saga_id
          WHERE r.saga_name = $1
          ORDER BY r.run_seq, c.seq`,
        [sagaName],
      );
      const out: IncompleteSaga[] = [];
      let current: { sagaId: string; sagaName: string; records: SagaLogRecord[] } | undefined;
      for (const row of rows) {
        if (current === undefined || current.sagaId !== row.saga_id) {
          current = { sagaId: row.saga_id, sagaName: row.saga_name, records: [] };
          out.push(current);
        }
        try {
          current.records.push(JSON.parse(row.record) as SagaLogRecord);
        } catch (cause) {
          throw new EnablementError(
            'PL-500',
            `saga log: a stored record of run '${row.saga_id}' is not JSON`,
            {
              cause,
            },
          );
        }
      }
      return out;
    },
  });
}
