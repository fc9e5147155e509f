/**
 * The lake window: the `created_date`s Athena's partition projection can show
 * (`projection.created_date.range`). The transform rejects events dated outside it
 * (`../shared/spec/contract.md`, "the lake window"), so one stage setting, `lakeDateRange`,
 * writes both the Glue table's range and the transform's `EVENTLAKE_LAKE_DATE_RANGE`.
 *
 * The grammar is the transform's (`glue-schema/src/window.rs`): `START,END` with START a date
 * `yyyy-MM-dd` and END a date, `NOW`, or `NOW±<n>DAYS` (n ≤ 9999) — the part of Athena's date
 * range syntax that fits a `yyyy-MM-dd` projection
 * (https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html).
 * Both parsers run the cases of `glue-schema/lake-window-cases.json`.
 */

/** Environment variable of the transform that holds the range (`transform/src/handler.rs`). */
export const LAKE_DATE_RANGE_ENV = 'EVENTLAKE_LAKE_DATE_RANGE';

/** Days since 1970-01-01 of a `yyyy-MM-dd` date, or undefined when it is not one. */
function day(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) {
    return undefined;
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    return undefined;
  }
  return Math.round(ms / 86_400_000);
}

/** A parsed range: its first day (days since 1970-01-01). */
export interface LakeWindow {
  /** First day allowed. */
  readonly firstDay: number;
}

/** Parses `range`; the error message says what is wrong. */
export function parseLakeDateRange(range: string): LakeWindow | { error: string } {
  const parts = range.split(',');
  if (parts.length !== 2) {
    return { error: 'expected START,END, e.g. 2020-01-01,NOW+1DAYS' };
  }
  const [start, end] = parts.map((p) => p.trim());
  const firstDay = day(start);
  if (firstDay === undefined) {
    return { error: 'START must be a date yyyy-MM-dd (a relative start would hide accepted data)' };
  }
  if (end.startsWith('NOW')) {
    if (!/^NOW([+-]\d{1,4}DAYS)?$/.test(end)) {
      return { error: 'END must be a date, NOW, or NOW+<n>DAYS (n at most 9999, unit DAYS)' };
    }
  } else {
    const last = day(end);
    if (last === undefined) {
      return { error: 'END must be a date yyyy-MM-dd, NOW, or NOW+<n>DAYS' };
    }
    if (last < firstDay) {
      return { error: 'END is before START' };
    }
  }
  return { firstDay };
}
