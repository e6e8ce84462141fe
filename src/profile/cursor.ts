// The timeline's order and its `next` cursor. Newest first; events of one moment by event id;
// two merged events that share both (two people's, see README) by their content. Everything in
// the order travels with an event, unlike its arrival number in one object: a merge keeps it, so
// a cursor from before a merge, used on the merged-away id, goes on from the same place. The
// cursor names the last event shown by its time, its id and a digest of its content.
import { base64url } from "jose";
import type { TimelineEvent } from "../schemas";

export interface Cursor {
  ts: number;
  eventId: string;
  /** Tells apart two events of one moment and id (two people's, merged): see `digest`. */
  digest: string;
}

/** An event as the SQL rows carry it (a type, so it is a SQL row too). */
export type EventRow = { ts: number; event_id: string; body: string };

/** FNV-1a of an event's stored JSON: enough to tell apart the few events that share a place. */
export function digest(body: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < body.length; i++) {
    hash ^= body.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

// UTF-16 code units sort as code points (and so as SQLite's UTF-8 bytes) but for U+E000–U+FFFF,
// which sort above the surrogates that encode U+10000 and beyond: moved below them here.
const codePointRank = (unit: number) =>
  unit < 0xd800 ? unit : unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;

/** SQLite's BINARY order of two strings (the order of their UTF-8 bytes). */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** The order of `ORDER BY ts DESC, event_id DESC, body DESC`, for events held in memory. */
export function newestFirst(a: TimelineEvent, b: TimelineEvent): number {
  const byTime = Date.parse(b.timestamp) - Date.parse(a.timestamp);
  if (byTime !== 0) return byTime;
  const byId = compareUtf8(b.event_id, a.event_id);
  return byId !== 0 ? byId : compareUtf8(JSON.stringify(b), JSON.stringify(a));
}

/**
 * One page: `tied` are the events of the cursor's moment and id (in order), `older` those after
 * them, at least `limit + 1`. Of the tied, those up to the one the cursor names were shown (all,
 * if it is gone: a repeat rather than a gap).
 */
export function pageOf(
  tied: readonly EventRow[],
  older: readonly EventRow[],
  before: Cursor | null,
  limit: number,
): { page: EventRow[]; next: Cursor | null } {
  const shown = before ? tied.findIndex((row) => digest(row.body) === before.digest) : -1;
  const rows = [...tied.slice(shown + 1), ...older];
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  if (rows.length <= limit || !last) return { page, next: null };
  return { page, next: { ts: last.ts, eventId: last.event_id, digest: digest(last.body) } };
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeCursor(cursor: Cursor): string {
  return `${cursor.ts}.${base64url.encode(cursor.eventId)}.${cursor.digest}`;
}

/** The cursor in `text`, or null when it is not one `encodeCursor` could have written. */
export function decodeCursor(text: string): Cursor | null {
  const match = /^(-?\d{1,16})\.([\w-]{1,700})\.([0-9a-f]{8})$/.exec(text);
  if (!match?.[1] || !match[2] || !match[3]) return null;
  let eventId: string;
  try {
    eventId = utf8.decode(base64url.decode(match[2]));
  } catch {
    return null;
  }
  return eventId ? { ts: Number(match[1]), eventId, digest: match[3] } : null;
}
