// Identifier types in priority order: the first decides which profile an event lands on.
export const IDENTIFIER_TYPES = [
  "user_id",
  "loyalty_id",
  "email",
  "phone",
  "device_id",
  "anonymous_id",
] as const;

export type IdentifierType = (typeof IDENTIFIER_TYPES)[number];

/** Types of which a profile holds at most one value: two different values are two people. */
export const KEY_TYPES: readonly IdentifierType[] = ["user_id", "loyalty_id"];

export const priority = (type: IdentifierType): number => IDENTIFIER_TYPES.indexOf(type);

/** A normalised identifier with its peppered hash; the hash, never the value, names objects. */
export interface Identifier {
  type: IdentifierType;
  value: string;
  hash: string;
}
