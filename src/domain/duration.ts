/**
 * ISO 8601 durations for configuration (`P1095D`, `PT5M`, `P1W`, `PT0.5S`).
 *
 * Years and months are refused: they have no fixed length, and an expiry policy must mean the same number of
 * seconds on every day it is applied (the public reference server's defaults are written in days: P1095D, P1825D).
 */
const DURATION = /^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d{1,3})?)S)?)?$/;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Returns the duration in milliseconds, or an error message naming what is wrong. */
export function parseIsoDuration(text: string): { ms: number } | { error: string } {
  if (/^P[^T]*\d[YM]/.test(text)) {
    return { error: `"${text}" uses years or months, which have no fixed length; write days instead (e.g. P1095D)` };
  }
  const match = DURATION.exec(text);
  if (!match) {
    return { error: `"${text}" is not an ISO 8601 duration such as P1095D, PT5M or PT30S` };
  }
  const [, weeks, days, hours, minutes, seconds] = match;
  const ms =
    Number(weeks ?? 0) * 7 * DAY +
    Number(days ?? 0) * DAY +
    Number(hours ?? 0) * HOUR +
    Number(minutes ?? 0) * MINUTE +
    Math.round(Number((seconds ?? '0').replace(',', '.')) * SECOND);
  if (!Number.isSafeInteger(ms)) {
    return { error: `"${text}" is too long` };
  }
  return { ms };
}
