import { expect, test } from 'vitest';
import { splitSqlStatements } from './sql-split.ts';

test('splits on semicolons outside comments, strings and dollar quotes', () => {
  const text = `
    -- a comment; with a semicolon
    CREATE TABLE a (x text DEFAULT 'semi;colon');
    CREATE FUNCTION f() RETURNS int AS $fn$ BEGIN RETURN 1; END $fn$ LANGUAGE plpgsql;
    SELECT "we;ird" FROM a;`;
  const parts = splitSqlStatements(text);
  expect(parts).toHaveLength(3);
  expect(parts[0]).toContain("'semi;colon'");
  expect(parts[1]).toContain('RETURN 1; END');
  expect(parts[2]).toBe('SELECT "we;ird" FROM a');
});
