/** One numbered step of the database schema. */
export interface Migration {
  /** Its number: migrations apply in ascending order, each exactly once. */
  readonly version: number;
  /** What it does, recorded next to the number. */
  readonly name: string;
  /** Its statements, for the double-quoted schema name given; run in order, in one transaction. */
  statements(schema: string): readonly string[];
}
