// The timeline's order, newest first with event ids breaking ties, and its `next` cursor: the time
// and id of the last event a page showed. Event ids are the tie-break, not arrival order, because a merge brings events into another
// profile under new arrival numbers while their ids stay: a cursor from before a merge, used on
// the merged-away id, still points at the same place in the survivor's timeline.
import { base64url } from "jose";
import type { TimelineEvent } from "../schemas";

export interface Cursor {
  ts: number;
  eventId: string;
}

/** The order of `ORDER BY ts DESC, event_id DESC`, for events held in memory. */
export function newestFirst(a: TimelineEvent, b: TimelineEvent): number {
  const byTime = Date.parse(b.timestamp) - Date.parse(a.timestamp);
  if (byTime !== 0) return byTime;
  return a.event_id < b.event_id ? 1 : a.event_id > b.event_id ? -1 : 0;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeCursor({ ts, eventId }: Cursor): string {
  return `${ts}.${base64url.encode(eventId)}`;
}

/** The cursor in `text`, or null when it is not one `encodeCursor` could have written. */
export function decodeCursor(text: string): Cursor | null {
  const match = /^(-?\d{1,16})\.([\w-]{1,700})$/.exec(text);
  if (!match?.[1] || !match[2]) return null;
  let eventId: string;
  try {
    eventId = utf8.decode(base64url.decode(match[2]));
  } catch {
    return null;
  }
  return eventId ? { ts: Number(match[1]), eventId } : null;
}
