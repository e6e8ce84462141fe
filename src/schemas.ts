// Zod schemas: they validate requests, give the TypeScript types and generate the OpenAPI document.
import { z } from "@hono/zod-openapi";
import { jsonNodes } from "./json-text";

export const MAX_BATCH = 100;
export const MAX_TRAIT_KEYS = 100;
const FUTURE_TOLERANCE_MS = 24 * 60 * 60 * 1000;
/** How deep a client may nest JSON inside `properties`: deeper would overflow a stack on the way to storage. */
export const MAX_PROPERTIES_DEPTH = 32;
/** The largest purchase total or item price, in any currency: sums of them stay finite. */
export const MAX_AMOUNT = 1e12;

// A UTF-16 surrogate without its pair: JSON can carry one (`"\ud800"`), UTF-8 cannot, so storage
// and the identifier hash would turn it into U+FFFD and two different values into one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const wellFormed = (value: string) => !LONE_SURROGATE.test(value);
const NOT_WELL_FORMED = "Not valid Unicode (a lone surrogate)";

/** A client's string of 1 to `max` characters, well-formed Unicode. */
const text = (max: number) =>
  z.string().min(1).max(max).refine(wellFormed, { message: NOT_WELL_FORMED });

/** An id or name a client chooses: `text` with something in it besides spaces. */
const label = (max: number) =>
  text(max).refine((value) => value.trim() !== "", { message: "Blank" });

/**
 * What is wrong with open JSON a client nests in `properties`, if anything: too deep, a string or
 * key that is not valid Unicode, a number JSON cannot carry back. Iterative, so no depth breaks it.
 */
export function openJsonFault(value: unknown): string | null {
  for (const { value: item, key, depth } of jsonNodes(value)) {
    if (key !== null && !wellFormed(key)) return NOT_WELL_FORMED;
    if (typeof item === "string" && !wellFormed(item)) return NOT_WELL_FORMED;
    if (typeof item === "number" && !Number.isFinite(item)) return "Not a finite number";
    if (item !== null && typeof item === "object" && depth >= MAX_PROPERTIES_DEPTH)
      return `Nested more than ${MAX_PROPERTIES_DEPTH} levels`;
  }
  return null;
}

const openJson = <T>(value: T, ctx: z.core.$RefinementCtx<T>) => {
  const fault = openJsonFault(value);
  if (fault) ctx.addIssue({ code: "custom", message: fault });
};

export const ChannelSchema = z
  .enum(["web", "app", "store", "kiosk", "call_center", "email"])
  .openapi("Channel");
export type Channel = z.infer<typeof ChannelSchema>;

const identifierValue = text(256);

export const IdentifiersSchema = z
  .strictObject({
    user_id: identifierValue.optional(),
    email: identifierValue.optional(),
    phone: identifierValue.optional(),
    loyalty_id: identifierValue.optional(),
    device_id: identifierValue.optional(),
    anonymous_id: identifierValue.optional(),
  })
  .openapi("Identifiers", { example: { email: "Jane.Doe@Example.com", phone: "(415) 555-0132" } });
export type IdentifiersInput = z.infer<typeof IdentifiersSchema>;

export const TraitValueSchema = z.union([
  z.string().max(2048).refine(wellFormed, { message: NOT_WELL_FORMED }),
  z.number(),
  z.boolean(),
  z.null(),
]);
export type TraitValue = z.infer<typeof TraitValueSchema>;

export const TraitsSchema = z
  .record(label(128), TraitValueSchema)
  .refine((traits) => Object.keys(traits).length <= MAX_TRAIT_KEYS, {
    message: `At most ${MAX_TRAIT_KEYS} trait keys`,
  })
  .openapi("Traits", { example: { first_name: "Jane", last_name: "Doe", loyalty_tier: "gold" } });
export type Traits = z.infer<typeof TraitsSchema>;

const timestamp = z.iso
  .datetime({ offset: true })
  .refine((value) => Date.parse(value) <= Date.now() + FUTURE_TOLERANCE_MS, {
    message: "More than 24 hours in the future",
  });

const base = {
  id: label(128).openapi({ description: "Client-chosen unique id: the idempotency key" }),
  channel: ChannelSchema.optional().openapi({
    description:
      "Required for admin and server keys; pos keys default to store, kiosk keys to kiosk",
  }),
  store_id: label(128).optional(),
  // Any event may carry a name (API.md's event shape); a track event must.
  name: label(128).optional(),
  timestamp: timestamp.optional().openapi({ description: "ISO-8601; default now" }),
  identifiers: IdentifiersSchema.default({}),
  traits: TraitsSchema.optional(),
};

const openMap = z.record(z.string(), z.unknown());
/** Properties of any shape: checked once, from the top (a survey's `answers` with the rest). */
const looseProperties = openMap.superRefine(openJson);

// Open like the purchase around it: a till's richer line items (size, colour) are kept, not dropped.
export const PurchaseItemSchema = z.looseObject({
  // A line may have none (gift wrap, a service fee): API.md requires no item field.
  sku: z.string().max(128).optional(),
  name: z.string().max(512).optional(),
  category: z.string().max(256).optional(),
  // A discount line is negative; goods sold by weight come in fractions.
  price: z.number().min(-MAX_AMOUNT).max(MAX_AMOUNT).optional(),
  quantity: z.number().positive().max(100_000).default(1),
});

/** An ISO 4217 code in either case (a payment provider may send `usd`), kept in upper case. */
export const CurrencySchema = z
  .string()
  .regex(/^[A-Za-z]{3}$/, "An ISO 4217 code such as USD")
  .toUpperCase();

export const PurchasePropertiesSchema = z
  .looseObject({
    order_id: z.string().min(1).max(128),
    total: z.number().nonnegative().max(MAX_AMOUNT),
    currency: CurrencySchema,
    items: z.array(PurchaseItemSchema).max(500).default([]),
  })
  .superRefine(openJson);

export const SurveyPropertiesSchema = z
  .looseObject({
    survey_id: z.string().min(1).max(128),
    answers: openMap.default({}),
    nps: z.number().int().min(0).max(10).optional(),
  })
  .superRefine(openJson);

export const ConsentStatusSchema = z.enum(["granted", "denied"]);
export type ConsentStatus = z.infer<typeof ConsentStatusSchema>;

export const ConsentPurposesSchema = z
  .record(
    z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "A purpose name such as marketing_email"),
    ConsentStatusSchema,
  )
  .refine((purposes) => Object.keys(purposes).length > 0, { message: "At least one purpose" });

export const ConsentPropertiesSchema = z
  .looseObject({ purposes: ConsentPurposesSchema })
  .superRefine(openJson);

export const ConsentRequestSchema = z
  .strictObject({ purposes: ConsentPurposesSchema, channel: ChannelSchema.optional() })
  .openapi("ConsentRequest");

export const ConsentChangeSchema = z
  .object({
    purpose: z.string(),
    status: ConsentStatusSchema,
    channel: z.string(),
    source: z.string(),
    at: z.string(),
  })
  .openapi("ConsentChange");
export type ConsentChangeView = z.infer<typeof ConsentChangeSchema>;

export const EventSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ ...base, type: z.literal("visit"), properties: looseProperties.optional() }),
    z.strictObject({
      ...base,
      type: z.literal("identify"),
      properties: looseProperties.optional(),
    }),
    z.strictObject({ ...base, type: z.literal("purchase"), properties: PurchasePropertiesSchema }),
    z.strictObject({ ...base, type: z.literal("survey"), properties: SurveyPropertiesSchema }),
    z.strictObject({ ...base, type: z.literal("consent"), properties: ConsentPropertiesSchema }),
    z.strictObject({
      ...base,
      type: z.literal("track"),
      name: label(128),
      properties: looseProperties.optional(),
    }),
  ])
  .openapi("Event");
export type EventInput = z.infer<typeof EventSchema>;

export const BatchSchema = z
  .strictObject({
    batch: z
      .array(z.unknown())
      .min(1)
      .max(MAX_BATCH)
      .openapi({
        description: `1 to ${MAX_BATCH} events; each is validated and answered on its own`,
      }),
  })
  .openapi("EventBatch");

export const EventsRequestSchema = z.union([BatchSchema, EventSchema]);

/** An event as stored and shown in a timeline; `event_id` is the client's `id`. */
export const TimelineEventSchema = z
  .object({
    event_id: z.string(),
    type: z.enum(["visit", "identify", "purchase", "survey", "consent", "track"]),
    name: z.string().optional(),
    channel: ChannelSchema,
    store_id: z.string().optional(),
    timestamp: z.string(),
    received_at: z.string().optional().openapi({
      description:
        "Only on an event dated ahead of its arrival: when it arrived, the time it counts from",
    }),
    traits: TraitsSchema.optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("TimelineEvent");
export type TimelineEvent = z.infer<typeof TimelineEventSchema>;

export const ComputedSchema = z
  .object({
    visit_count: z.number(),
    visits_by_channel: z.record(z.string(), z.number()),
    first_seen_at: z.string().nullable(),
    last_seen_at: z.string().nullable(),
    last_seen_by_channel: z.record(z.string(), z.string()),
    purchase_count: z.number(),
    lifetime_value: z
      .number()
      .openapi({ description: "Purchases in the brand's CURRENCY; others are listed apart" }),
    average_order_value: z.number().nullable(),
    lifetime_value_by_currency: z.record(z.string(), z.number()).openapi({
      description: "Purchase totals per ISO 4217 currency, the brand's own included",
    }),
    last_purchase_at: z.string().nullable(),
    favorite_store: z.string().nullable(),
    favorite_category: z.string().nullable(),
    last_nps: z.number().nullable(),
  })
  .openapi("ComputedTraits");
export type Computed = z.infer<typeof ComputedSchema>;

export const NextMessageSchema = z
  .object({
    message_id: z.string(),
    campaign_id: z.string(),
    title: z.string(),
    body: z.string(),
    offer_code: z.string().optional(),
  })
  .openapi("NextMessage");

export const MessageActionSchema = z
  .strictObject({
    action: z.enum(["shown", "clicked", "dismissed", "redeemed"]),
    channel: ChannelSchema.optional(),
  })
  .openapi("MessageAction");

export const MessageIdParamSchema = z.object({
  message_id: z
    .string()
    .max(128)
    .openapi({ param: { name: "message_id", in: "path" }, example: "msg_…" }),
});

export const ConsentMapSchema = z.record(z.string(), ConsentStatusSchema).openapi("Consent");

export const ConflictSchema = z
  .object({
    type: z.string(),
    reason: z.enum(["merge_protection", "limit", "merge_limit"]),
    profile_id: z
      .string()
      .optional()
      .openapi({ description: "The profile that keeps the identifier" }),
    event_id: z.string(),
    at: z.string(),
  })
  .openapi("Conflict");
export type Conflict = z.infer<typeof ConflictSchema>;

export const MergeRecordSchema = z
  .object({
    profile_id: z.string().openapi({ description: "The profile merged into this one" }),
    via: z.array(z.string()).openapi({ description: "Identifier types that joined them" }),
    event_id: z.string(),
    channel: z.string(),
    at: z.string(),
  })
  .openapi("MergeRecord");
export type MergeRecord = z.infer<typeof MergeRecordSchema>;

const LoyaltySchema = z.object({ tier: z.string().nullable(), points: z.number().nullable() });

export const FullViewSchema = z
  .object({
    view: z.literal("full"),
    profile_id: z.string(),
    first_name: z.string().optional(),
    identifiers: z.record(z.string(), z.array(z.string())),
    claimed_identifiers: z.record(z.string(), z.array(z.string())),
    traits: TraitsSchema,
    computed: ComputedSchema,
    segments: z.array(z.string()),
    consent: ConsentMapSchema,
    conflicts: z.array(ConflictSchema),
    merges: z.array(MergeRecordSchema),
    created_at: z.string(),
  })
  .openapi("FullView");

export const StaffViewSchema = z
  .object({
    view: z.literal("staff"),
    profile_id: z.string(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    contacts: z.object({ email: z.array(z.string()), phone: z.array(z.string()) }),
    loyalty_id: z.string().nullable(),
    loyalty: LoyaltySchema,
    segments: z.array(z.string()),
    stats: z.object({
      visits: z.record(z.string(), z.number()),
      purchases: z.record(z.string(), z.number()),
    }),
    recent_events: z.array(TimelineEventSchema.omit({ traits: true, properties: true })).max(5),
    consent: ConsentMapSchema,
    next_message: NextMessageSchema.nullable(),
  })
  .openapi("StaffView");

export const KioskViewSchema = z
  .object({
    view: z.literal("kiosk"),
    profile_id: z.string(),
    first_name: z.string().optional(),
    loyalty: LoyaltySchema,
    next_message: NextMessageSchema.nullable(),
  })
  .openapi("KioskView");

export const CustomerViewSchema = z
  .object({
    view: z.literal("customer"),
    profile_id: z.string(),
    first_name: z.string().optional(),
    loyalty: LoyaltySchema,
    segments: z.array(z.string()),
    consent: ConsentMapSchema,
    next_message: NextMessageSchema.nullable(),
  })
  .openapi("CustomerView");

export const ProfileViewSchema = z
  .discriminatedUnion("view", [
    FullViewSchema,
    StaffViewSchema,
    KioskViewSchema,
    CustomerViewSchema,
  ])
  .openapi("ProfileView");
export type FullView = z.infer<typeof FullViewSchema>;
export type StaffView = z.infer<typeof StaffViewSchema>;
export type KioskView = z.infer<typeof KioskViewSchema>;
export type CustomerView = z.infer<typeof CustomerViewSchema>;
export type ProfileView = z.infer<typeof ProfileViewSchema>;

export const ConsentResultSchema = z
  .object({ profile_id: z.string(), consent: ConsentMapSchema })
  .openapi("ConsentResult");

export const ExportSchema = z
  .object({
    profile_id: z.string(),
    identifiers: z.record(z.string(), z.array(z.string())),
    claimed_identifiers: z.record(z.string(), z.array(z.string())),
    traits: TraitsSchema,
    computed: ComputedSchema,
    events: z.array(TimelineEventSchema),
    earlier_event_ids: z.array(z.string()).openapi({
      description: "Ids of events that left the window, still answered as duplicates",
    }),
    consent: z.record(z.string(), ConsentStatusSchema),
    consent_history: z.array(ConsentChangeSchema),
    messages: z.array(z.unknown()),
    merges: z.array(MergeRecordSchema),
    conflicts: z.array(ConflictSchema),
    created_at: z.string(),
  })
  .openapi("Export");
export type Export = z.infer<typeof ExportSchema>;

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

export const IngestResultSchema = z
  .object({
    event_id: z.string(),
    status: z.enum(["recorded", "duplicate"]),
    profile_id: z.string(),
    merged_profile_ids: z.array(z.string()),
    dropped_traits: z.array(z.string()).optional().openapi({
      description:
        "New trait keys the profile had no room for (it holds MAX_TRAITS_PER_PROFILE keys); the event keeps them",
    }),
    profile: ProfileViewSchema,
  })
  .openapi("IngestResult");
export type IngestResult = z.infer<typeof IngestResultSchema>;

export const BatchResultSchema = z
  .object({ results: z.array(z.union([IngestResultSchema, ProblemSchema])) })
  .openapi("BatchResult");

export const RecognizeRequestSchema = z
  .strictObject({ identifiers: IdentifiersSchema, channel: ChannelSchema.optional() })
  .openapi("RecognizeRequest");

export const RecognizeResultSchema = z
  .object({ profile_id: z.string(), profile: ProfileViewSchema })
  .openapi("RecognizeResult");

export const ProfileIdParamSchema = z.object({
  profile_id: z
    .string()
    .openapi({ param: { name: "profile_id", in: "path" }, example: "pr_5e3c…" }),
});

export const ProfileMessageParamSchema = ProfileIdParamSchema.extend(MessageIdParamSchema.shape);

export const TimelineQuerySchema = z.object({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, "A whole number from 1 to 200, in digits")
    .transform(Number)
    .pipe(z.number().min(1).max(200))
    .default(50)
    .openapi({ type: "integer", minimum: 1, maximum: 200, default: 50 }),
  before: z
    .string()
    .max(720)
    .optional()
    .openapi({ description: "The `next` cursor of the previous page" }),
});

export const TimelineSchema = z
  .object({ events: z.array(TimelineEventSchema), next: z.string().nullable() })
  .openapi("Timeline");

export const ROLES = ["admin", "server", "pos", "kiosk", "web"] as const;

export const CreateKeySchema = z
  .strictObject({
    role: z.enum(ROLES),
    name: label(128),
    store_id: label(128).optional(),
    // http(s) only: any other scheme's origin is "null", which every sandboxed page can send. A
    // host a browser sends (no `*`): origins are compared whole, so a wildcard would match nothing.
    origins: z
      .array(
        z
          .url({
            protocol: /^https?$/,
            hostname: /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/i,
            error: "An http or https origin, one host (no wildcards)",
          })
          .max(512),
      )
      .max(50)
      .optional(),
  })
  .superRefine((key, ctx) => {
    if ((key.role === "pos" || key.role === "kiosk") && !key.store_id) {
      ctx.addIssue({
        code: "custom",
        path: ["store_id"],
        message: `A ${key.role} key is bound to one store`,
      });
    }
    if (key.role !== "pos" && key.role !== "kiosk" && key.store_id) {
      ctx.addIssue({
        code: "custom",
        path: ["store_id"],
        message: "Only pos and kiosk keys have a store",
      });
    }
    if (key.role === "web" && !key.origins?.length) {
      ctx.addIssue({
        code: "custom",
        path: ["origins"],
        message: "A web key needs its allowed origins",
      });
    }
    if (key.role !== "web" && key.origins) {
      ctx.addIssue({ code: "custom", path: ["origins"], message: "Only web keys have origins" });
    }
  })
  .openapi("CreateKey");
export type CreateKey = z.infer<typeof CreateKeySchema>;

export const KeySchema = z
  .object({
    id: z.string(),
    role: z.enum(ROLES),
    name: z.string(),
    store_id: z.string().optional(),
    origins: z.array(z.string()).optional(),
    created_at: z.string(),
  })
  .openapi("ApiKey");
export type ApiKey = z.infer<typeof KeySchema>;

export const CreatedKeySchema = KeySchema.extend({
  key: z.string().openapi({ description: "The secret, shown this once" }),
}).openapi("CreatedApiKey");

export const KeyIdParamSchema = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
});
