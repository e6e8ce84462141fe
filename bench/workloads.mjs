// What each phase sends. A workload turns the index of a request into the request, so the
// orchestrator's preflight and every autocannon connection build exactly the same kind of call.
import { identifiersOf, RANGES } from "./people.mjs";

/** A POST of `body` as JSON, with further `headers` (a credential, a bench switch). */
const post = (body, headers = {}) => ({
  method: "POST",
  headers: { ...headers, "content-type": "application/json" },
  body: JSON.stringify(body),
});

const bearer = (key) => ({ authorization: `Bearer ${key}` });

/**
 * Fresh numbers for each round of the creation phase: far more than a 2-s window sends, and few
 * enough that every round (preflight, prime, warm-up, up to twelve windows) keeps the strangers'
 * phone numbers valid (people.mjs: below 8,000,000).
 */
const STRANGERS_PER_ROUND = 200_000;

/** Known people are taken in turn: `count` of them, `stride` apart, from `first` on. */
const known = ({ first = 0, count, stride = 1 }, i) => identifiersOf(first + (i % count) * stride);

/** A web visit by the person these identifiers name, as the brand's back end reports it. */
const visit = (id, identifiers) => ({ id, type: "visit", channel: "web", identifiers });

/** A signed-in person is known to the back end by email and anonymous id. */
const signedIn = ({ email, anonymous_id }) => ({ email, anonymous_id });

export const workloads = {
  floor: () => () => ({ method: "GET", path: "/healthz" }),

  read:
    ({ objects }) =>
    (i) => ({ method: "GET", path: `/bench/read/${i % objects}` }),

  /** The read primitive as a lookup is sent: a POST whose JSON body the route reads. */
  readbody:
    ({ objects }) =>
    (i) => ({
      path: `/bench/read/${i % objects}`,
      ...post({ identifiers: { phone: "+14155550100" } }),
    }),

  write:
    ({ objects }) =>
    (i) => ({ method: "POST", path: `/bench/write/${i % objects}` }),

  /** The write primitive as an event is sent: the route reads, parses and stores the visit. */
  writebody:
    ({ objects }) =>
    (i) => ({
      path: `/bench/write/${i % objects}`,
      ...post(visit(`writebody-${i}`, signedIn(identifiersOf(i % objects)))),
    }),

  /** Every request a new object: what creating per-person state costs the platform itself. */
  newobject: (params) => (i) => ({
    method: "POST",
    path: `/bench/write/new-${params.round}-${i}`,
  }),

  /** A till looks the customer up by phone or by loyalty card, alternately. */
  recognize: (params) => (i) => {
    const { phone, loyalty_id } = known(params, i);
    const identifiers = i % 2 === 0 ? { phone } : { loyalty_id };
    return { path: "/v1/recognize", ...post({ identifiers }, bearer(params.key)) };
  },

  me:
    ({ tokens }) =>
    (i) => ({
      method: "GET",
      path: "/v1/me",
      headers: bearer(tokens[i % tokens.length]),
    }),

  /** The brand's back end reports a web visit by a signed-in person it knows. */
  ingest: (params) => (i) => {
    const event = visit(`ingest-${params.round}-${i}`, signedIn(known(params, i)));
    return { path: "/v1/events", ...post(event, bearer(params.key)) };
  },

  /** The same ingest, to profiles that store nothing (bench/entry.ts): the ceiling of any ingest. */
  storeless: (params) => (i) => {
    const event = visit(`storeless-${params.round}-${i}`, signedIn(known(params, i)));
    return {
      path: "/v1/events",
      ...post(event, { ...bearer(params.key), "x-bench-storeless": "1" }),
    };
  },

  /** Someone never seen before signs up: every identifier is new, so every one is claimed. */
  creation: (params) => (i) => {
    const n = RANGES.strangers + params.round * STRANGERS_PER_ROUND + i;
    const { email, phone, loyalty_id, anonymous_id } = identifiersOf(n);
    const event = visit(`signup-${n}`, { email, phone, loyalty_id, anonymous_id });
    return { path: "/v1/events", ...post(event, bearer(params.key)) };
  },
};
