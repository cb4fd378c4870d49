//! The webhook types of the seed API (`WebhookType`).

/// Every event type edgehook delivers; destinations subscribe by these names.
pub const WEBHOOK_TYPES: [&str; 3] = [
    "conversation-post-processing-complete",
    "api-key-expiration-soon",
    "agent-framework-resource-updated",
];

/// True when `s` is a `WebhookType` value.
pub fn is_webhook_type(s: &str) -> bool {
    WEBHOOK_TYPES.contains(&s)
}
