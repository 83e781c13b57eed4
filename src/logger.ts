// The structured logger: one JSON line per entry on stderr, written by pino.
// Callers see only the small Logger interface, so the library stays swappable.
// Every line written while a request is served carries that request's fields
// (its id first of all) through an AsyncLocalStorage context, set once by the
// access-log middleware: no logger has to be passed down or re-created per request.
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const context = new AsyncLocalStorage<Record<string, unknown>>();

/** Runs fn with fields added to every line logged inside it, whatever logger writes it. */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

/** The fields of the current log context (the request's id, ...), or none. */
export function logContext(): Record<string, unknown> {
  return context.getStore() ?? {};
}

export function createLogger(level: Level = 'info', write?: (line: string) => void): Logger {
  const destination = write ? { write } : pino.destination({ fd: 2, sync: true });
  const p = pino(
    {
      level,
      // the shape Bollard always printed: {"time":"<ISO>","level":"info","msg":...,...fields}
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => context.getStore() ?? {},
    },
    destination,
  );
  const at = (lvl: Exclude<Level, 'silent'>) => (msg: string, fields?: Record<string, unknown>) => {
    // msg goes in the object, ahead of the fields: lines read (and are matched) as "msg":...,"field":...
    p[lvl]({ msg, ...fields });
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * A line for when no configured logger exists yet (or any more): start-up
 * failures before the configuration is read, signals, fatal errors. Still JSON.
 */
export function printLine(level: Exclude<Level, 'silent'>, msg: string, fields?: Record<string, unknown>): void {
  createLogger('debug')[level](msg, fields);
}
