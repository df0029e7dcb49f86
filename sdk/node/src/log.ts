// One logger for the SDK, and a problem log that reports a problem once rather than once per event:
// a host whose backend is down must not drown in our lines (sdk/spec/CONTRACT.md, section 13).
import { debuglog } from "node:util";

/** Anything with these three methods: `console`, pino, winston, bunyan. */
export interface Logger {
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

const debug = debuglog("autopilot");

/** The default: warnings and info on stderr, debug with NODE_DEBUG=autopilot. Never stdout, which may be a CLI's output. */
export const stderrLogger: Logger = {
  warn: (message) => {
    process.stderr.write(`${message}\n`);
  },
  info: (message) => {
    process.stderr.write(`${message}\n`);
  },
  debug: (message) => {
    debug("%s", message);
  },
};

/** Calls a host-supplied logger without letting it throw into the SDK (or, through it, into the host). */
export function safeLog(logger: Logger, level: keyof Logger, message: string): void {
  try {
    logger[level](message);
  } catch {
    // A logger that throws must not become the thing that breaks the host.
  }
}

/** The first report of a problem is a warning; repeats are debug until it clears; the recovery is logged once. */
export class ProblemLog {
  private readonly active = new Set<string>();

  constructor(readonly logger: Logger) {}

  report(key: string, message: string): void {
    const first = !this.active.has(key);
    this.active.add(key);
    safeLog(this.logger, first ? "warn" : "debug", message);
  }

  clear(key: string, message?: string): void {
    if (this.active.delete(key) && message) safeLog(this.logger, "info", message);
  }
}
