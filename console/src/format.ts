// Numbers and UTC times as the console shows them. Every time on the page is UTC, as
// in the API: tags carry UTC instants and buckets are UTC minutes.

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** 1234567 -> "1,234,567". */
export function formatInteger(value: number): string {
  return integer.format(value);
}

/** A rate per second: one decimal below 100, whole above. */
export function formatRate(value: number): string {
  return Math.abs(value) < 100 ? oneDecimal.format(value) : integer.format(value);
}

/** Seconds with one decimal ("0.4"), or two below a tenth. */
export function formatSeconds(value: number): string {
  return value < 0.1 ? value.toFixed(2) : oneDecimal.format(value);
}

/** Axis labels: 1200 -> "1.2K". */
export function formatCompact(value: number): string {
  return compact.format(value);
}

/** A share in percent with one decimal. */
export function formatShare(part: number, whole: number): string {
  return whole > 0 ? `${oneDecimal.format((100 * part) / whole)}%` : "—";
}

/** Milliseconds since the epoch -> the API's `YYYY-MM-DDTHH:MM:SS` (UTC). */
export function toApiTime(millis: number): string {
  return new Date(millis).toISOString().slice(0, 19);
}

/** The API's `YYYY-MM-DDTHH:MM:SS` (or an instant with `Z`) -> milliseconds. */
export function fromApiTime(text: string): number {
  return Date.parse(text.endsWith("Z") ? text : `${text}Z`);
}

/** Milliseconds -> a time field's `YYYY-MM-DD HH:MM` (UTC). */
export function toInputTime(millis: number): string {
  return formatMinute(millis);
}

/**
 * A time field's `YYYY-MM-DD HH:MM` (seconds, and a `T` for the space, allowed) read as
 * UTC -> milliseconds; NaN when it is not such a time.
 */
export function fromInputTime(text: string): number {
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?$/.exec(text.trim());
  return match ? Date.parse(`${match[1]}T${match[2]}${match[3] ?? ":00"}Z`) : Number.NaN;
}

/** "2031-05-01 10:05" (UTC). */
export function formatMinute(millis: number): string {
  return new Date(millis).toISOString().slice(0, 16).replace("T", " ");
}

/** "10:05:02.123" (UTC). */
export function formatClock(millis: number): string {
  return new Date(millis).toISOString().slice(11, 23);
}

/** "2031-05-01" (UTC). */
export function formatDay(millis: number): string {
  return new Date(millis).toISOString().slice(0, 10);
}

/** The length of a range: "1 h", "15 min", "2 d 3 h". */
export function formatSpan(millis: number): string {
  const minutes = Math.round(millis / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}
