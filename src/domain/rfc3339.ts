/**
 * Strict RFC 3339 date-time parsing (section 5.6), for the `x-expiry-time` header (key-capsules OpenAPI:
 * `format: date-time`). `Date.parse` alone is too lenient: it accepts dates such as February 30 and many
 * non-RFC forms, so each field is checked and the result is compared back with the fields.
 */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Like Date.UTC, but years 0..99 stay years 0..99 (Date.UTC reads them as 1900..1999). */
function utc(year: number, monthIndex: number, day: number, h: number, m: number, s: number, ms: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  date.setUTCHours(h, m, s, ms);
  return date;
}

export function parseRfc3339(text: string): Date | undefined {
  const match = DATE_TIME.exec(text);
  if (!match) {
    return undefined;
  }
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, offH, offM] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  // RFC 3339 allows a leap second (60); it is folded into the next second, as most platforms do.
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  const daysInMonth = utc(year, month, 0, 0, 0, 0, 0).getUTCDate();
  if (day > daysInMonth) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (!zulu) {
    const offsetHours = Number(offH);
    const offsetMins = Number(offM);
    if (offsetHours > 23 || offsetMins > 59) {
      return undefined;
    }
    offsetMinutes = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const millis = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0;
  const date = new Date(utc(year, month - 1, day, hour, minute, second, millis).getTime() - offsetMinutes * 60_000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
