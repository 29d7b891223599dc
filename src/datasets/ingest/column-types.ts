/** Small predicates over DuckDB type names, as DESCRIBE prints them. */

export interface SourceColumn {
  name: string;
  type: string;
  /** SQL over the raw table when the source is not a plain column (a dotted path into a struct: "user"."features"). */
  sql?: string;
  /** The top-level column a dotted path starts from. */
  root?: string;
}

/** The SQL that reads a source column. */
export function sourceSql(c: SourceColumn, ident: (name: string) => string): string {
  return c.sql ?? ident(c.name);
}

export function isStructType(type: string): boolean {
  return type.startsWith('STRUCT(');
}

export function isListType(type: string): boolean {
  return /\[\d*\]$/.test(type);
}

export function isFloatType(type: string): boolean {
  return type === 'FLOAT' || type === 'DOUBLE' || type === 'REAL' || type.startsWith('DECIMAL');
}

/** FLOAT and DOUBLE only: the types that can hold NaN and Infinity. */
export function isIeeeType(type: string): boolean {
  return type === 'FLOAT' || type === 'DOUBLE' || type === 'REAL';
}

export function isIntegerType(type: string): boolean {
  return /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|UHUGEINT)$/.test(type);
}

export function isNumericType(type: string): boolean {
  return isFloatType(type) || isIntegerType(type);
}

export function isTextType(type: string): boolean {
  return type === 'VARCHAR';
}

/** The element type of a list or array type: FLOAT[] -> FLOAT, DOUBLE[3] -> DOUBLE. */
export function elementType(type: string): string {
  return type.replace(/\[\d*\]$/, '');
}
