// The timeline's order, newest first with event ids breaking ties, and its `next` cursor: the time
// and id of the last event a page showed. Event ids are the tie-break, not arrival order, because a merge brings events into another
// profile under new arrival numbers while their ids stay: a cursor from before a merge, used on
// the merged-away id, still points at the same place in the survivor's timeline.
import { base64url } from "jose";
import type { TimelineEvent } from "../schemas";

export interface Cursor {
  ts: number;
  eventId: string;
  /** Last, for two events of one moment that share an id (two people's, merged into one). */
  seq: number;
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

/**
 * The order of `ORDER BY ts DESC, event_id DESC, seq DESC`, for events held in memory: kept newest
 * first as they arrive, so a stable sort leaves the later of two equal ones first.
 */
export function newestFirst(a: TimelineEvent, b: TimelineEvent): number {
  const byTime = Date.parse(b.timestamp) - Date.parse(a.timestamp);
  return byTime !== 0 ? byTime : compareUtf8(b.event_id, a.event_id);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeCursor({ ts, eventId, seq }: Cursor): string {
  return `${ts}.${base64url.encode(eventId)}.${seq}`;
}

/** The cursor in `text`, or null when it is not one `encodeCursor` could have written. */
export function decodeCursor(text: string): Cursor | null {
  const match = /^(-?\d{1,16})\.([\w-]{1,700})\.(\d{1,16})$/.exec(text);
  if (!match?.[1] || !match[2] || !match[3]) return null;
  let eventId: string;
  try {
    eventId = utf8.decode(base64url.decode(match[2]));
  } catch {
    return null;
  }
  return eventId ? { ts: Number(match[1]), eventId, seq: Number(match[3]) } : null;
}
