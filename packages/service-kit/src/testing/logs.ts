/**
 * A pino logger writing to memory, for tests that assert what is (and is
 * not) logged: request ids on every line, no secrets.
 */
import pino, { type Logger } from 'pino';

export interface CapturedLogs {
  /** Level `trace`: everything is captured. */
  logger: Logger;
  /** Every line written so far (one JSON object per line). */
  lines(): string[];
  /** All lines joined, for `toContain`/`not.toContain` checks. */
  text(): string;
  /** The lines parsed. */
  records(): Record<string, unknown>[];
  clear(): void;
}

export function captureLogs(): CapturedLogs {
  let buffer: string[] = [];
  const logger = pino(
    { level: 'trace', base: undefined },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line.trim()) buffer.push(line);
      },
    },
  );
  return {
    logger,
    lines: () => [...buffer],
    text: () => buffer.join('\n'),
    records: () => buffer.map((l) => JSON.parse(l) as Record<string, unknown>),
    clear: () => {
      buffer = [];
    },
  };
}
