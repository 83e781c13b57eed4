// `bollard serve` from start to exit: the stop signals and the shutdown deadline.
//  - The first SIGINT or SIGTERM stops accepting and lets in-flight requests
//    finish; the pool and the embedded PostgreSQL stop after the last one. A
//    terminal's Ctrl-C reaches the embedded postmaster no more (it runs in its own
//    process group), so it is stopped last, by Bollard.
//  - After BOLLARD_SHUTDOWN_TIMEOUT the connections still open are closed (a
//    stalled client must not keep the process alive forever); the database is
//    still stopped cleanly, and the exit code is 1: requests were cut off.
//  - A second signal exits at once (code 1), after an immediate shutdown of the
//    embedded postmaster, so no server is left running behind.
//  - A signal during start-up stops the registry as soon as it is up.
//  - SIGHUP reloads the TLS certificate when serving HTTPS (src/http/tls.ts);
//    otherwise it is a hang-up and stops gracefully like SIGTERM (Node's default
//    would end the process at once and leave the embedded postmaster behind).
// Every line goes through the JSON logger.
import { inspect } from 'node:util';
import { ConfigError } from '../shared/config-error.ts';
import { createLogger, type Level, type Logger } from '../logger.ts';

export interface Stoppable {
  log: Logger;
  shutdownTimeoutMs: number;
  /** SIGHUP reloads something (the TLS pair) rather than stopping */
  reloadsOnHup: boolean;
  /** stop accepting, finish in-flight requests, close the pool, stop the embedded database */
  stop(): Promise<void>;
  /** close every open connection, whatever it is doing */
  closeConnections(): void;
  /** stop the embedded database at once, for an exit that cannot wait */
  abort(): Promise<void>;
}

/** After the deadline closed the connections, how long the clean stop of the database may still take. */
const AFTER_DEADLINE_MS = 20_000;
/** How long an immediate stop may take before the process exits anyway. */
const ABORT_MS = 12_000;

export async function runUntilSignalled(start: () => Promise<Stoppable>): Promise<void> {
  let registry: Stoppable | null = null;
  let first: NodeJS.Signals | null = null;
  let log: Logger = createLogger(envLevel());
  const exit = (code: number) => process.exit(code);

  const begin = (running: Stoppable, signal: NodeJS.Signals) => {
    log.info('stop signal received, finishing in-flight requests', { signal, timeoutSeconds: running.shutdownTimeoutMs / 1000 });
    let forced = false;
    const deadline = setTimeout(() => {
      forced = true;
      log.warn('shutdown deadline passed, closing open connections', { timeoutSeconds: running.shutdownTimeoutMs / 1000 });
      running.closeConnections();
      setTimeout(() => {
        log.error('shutdown still not done after closing connections, stopping the database at once');
        void abortThenExit(running);
      }, AFTER_DEADLINE_MS).unref();
    }, running.shutdownTimeoutMs);
    running.stop().then(
      () => {
        clearTimeout(deadline);
        log.info('stopped', forced ? { exitCode: 1, reason: 'connections were closed at the shutdown deadline' } : { exitCode: 0 });
        exit(forced ? 1 : 0);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        log.error('shutdown failed', { error: describe(err) });
        exit(1);
      },
    );
  };

  const abortThenExit = async (running: Stoppable | null) => {
    setTimeout(() => exit(1), ABORT_MS).unref();
    await running?.abort().catch((err: unknown) => log.error('immediate stop failed', { error: describe(err) }));
    exit(1);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (first === null) {
      first = signal;
      if (registry) begin(registry, signal);
      return;
    }
    // an embedded postmaster still starting is left to the next start, which clears leftovers
    log.warn('second stop signal, exiting at once', { signal, first });
    void abortThenExit(registry);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', (signal: NodeJS.Signals) => {
    if (!registry?.reloadsOnHup) onSignal(signal);
  });

  try {
    registry = await start();
  } catch (err) {
    if (err instanceof ConfigError) throw err; // the CLI reports it (exit code 2)
    log.error('bollard serve could not start', { error: describe(err) });
    exit(1);
    return;
  }
  log = registry.log;
  if (first) begin(registry, first);
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return err === undefined || err === null ? `an unexplained failure (${String(err)})` : inspect(err, { depth: 4, breakLength: Infinity });
}

/** The configured log level, for lines written before the configuration is loaded. */
function envLevel(): Level {
  const v = process.env.BOLLARD_LOG_LEVEL;
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' || v === 'silent' ? v : 'info';
}
