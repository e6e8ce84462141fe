// The orchestrator's own HTTP calls (keys, seeding, merges, probes): plain fetch, JSON in and out.

/** An API client bound to the Worker's origin: `await api("/v1/events", { key, body })`. */
export function apiClient(origin) {
  return async function api(path, { key, body, method } = {}) {
    const response = await fetch(new URL(path, origin), {
      method: method ?? (body === undefined ? "GET" : "POST"),
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON: `text` carries it into the error message.
    }
    return { status: response.status, json, text };
  };
}

/** Throws with the answer's body when the status is not the expected one. */
export function expectStatus(response, status, what) {
  if (response.status !== status) {
    throw new Error(
      `${what}: expected ${status}, got ${response.status}: ${response.text.slice(0, 500)}`,
    );
  }
  return response.json;
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function inPool(items, concurrency, task) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
