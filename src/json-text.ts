// JSON made once, where the data lives, and passed on as text: a profile view crosses RPC as a
// string (cheaper to pass than an object graph) and becomes the response body as it is, with no
// structured clone, parse or second stringify on the way (issue #5: no JSON re-parsing).

declare const shape: unique symbol;

/** The JSON text of a `T`; only made by `jsonText` and `embed`, so its shape is known. */
export type JsonText<T> = string & { readonly [shape]: T };

export const jsonText = <T>(value: T): JsonText<T> => JSON.stringify(value) as JsonText<T>;

/** `{ ...fields, [key]: <text> }` as JSON text, with `text` spliced in unparsed. */
export function embed<F extends object, K extends string, V>(
  fields: F,
  key: K,
  text: JsonText<V>,
): JsonText<F & { [P in K]: V }> {
  const head = JSON.stringify(fields);
  const separator = head === "{}" ? "" : ",";
  return `${head.slice(0, -1)}${separator}${JSON.stringify(key)}:${text}}` as JsonText<
    F & { [P in K]: V }
  >;
}

/** A JSON array of texts. */
export const jsonList = <T>(texts: JsonText<T>[]): JsonText<T[]> =>
  `[${texts.join(",")}]` as JsonText<T[]>;

/** The value of a JSON text, or undefined when it is malformed. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A value inside parsed JSON, with the key it sits under and the node that holds it. */
export interface JsonNode {
  value: unknown;
  key: string | null;
  depth: number;
  parent: JsonNode | null;
}

/**
 * Every value in parsed JSON, the root first, each before what it holds. Iterative, so no depth
 * breaks it; lazy, so a caller that stops (a fault found) reads no further.
 */
export function* jsonNodes(root: unknown): Generator<JsonNode> {
  const pending: JsonNode[] = [{ value: root, key: null, depth: 0, parent: null }];
  for (let node = pending.pop(); node; node = pending.pop()) {
    yield node;
    if (node.value === null || typeof node.value !== "object") continue;
    for (const [key, value] of Object.entries(node.value)) {
      pending.push({ value, key, depth: node.depth + 1, parent: node });
    }
  }
}

/** A node's dotted path from the root. */
export function pathOf(node: JsonNode): string {
  const keys: string[] = [];
  for (let at: JsonNode | null = node; at && at.key !== null; at = at.parent) keys.push(at.key);
  return keys.reverse().join(".");
}
