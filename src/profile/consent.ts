// Consent purposes are the brand's configured list: a typo must not become a purpose nobody honours.
import { Problem } from "../errors";

export function checkPurposes(
  purposes: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
): void {
  const unknown = Object.keys(purposes).filter((purpose) => !allowed.includes(purpose));
  if (unknown.length) {
    throw new Problem(400, "Unknown consent purpose", {
      errors: unknown.map((purpose) => ({
        path: `${path}.${purpose}`,
        message: `Not a configured purpose (${allowed.join(", ")})`,
      })),
    });
  }
}
