/**
 * The lab server's one logger (pino, JSON lines on stdout). Every line about
 * a reader's work carries `reader`, `environment` and `session` as fields:
 * use `log.child({ reader, environment, session })`. Tokens never appear in
 * a line: they are redacted wherever a field of that name turns up.
 */
import pino from "pino";

export const log = pino({
  name: "nix-way-labs",
  level: process.env.NWL_LOG_LEVEL ?? (process.env.VITEST ? "silent" : "info"),
  base: undefined,
  redact: { paths: ["token", "*.token", "authorization", "*.authorization", "headers.authorization"], censor: "[redacted]" },
});

export type Logger = typeof log;
