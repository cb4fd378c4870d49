//! Event types: the webhook types of the seed API (`WebhookType`), which
//! webhook destinations take and producers publish, and the operational
//! types, which edgehook itself sends to an organization's operational
//! destinations about its webhook destinations.

/// Every event type producers publish; webhook destinations subscribe by these names.
pub const WEBHOOK_TYPES: [&str; 3] = [
    "conversation-post-processing-complete",
    "api-key-expiration-soon",
    "agent-framework-resource-updated",
];

/// Every event type edgehook sends about the organization's own destinations.
/// No producer can publish them.
pub const OPERATIONAL_TYPES: [&str; 7] = [
    "destination.failing",
    "destination.disabled",
    "destination.recovered",
    "delivery.exhausted",
    "destination.created",
    "destination.updated",
    "destination.deleted",
];

/// True when `s` is a `WebhookType` value.
pub fn is_webhook_type(s: &str) -> bool {
    WEBHOOK_TYPES.contains(&s)
}

/// True when `s` is an operational event type.
pub fn is_operational_type(s: &str) -> bool {
    OPERATIONAL_TYPES.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_kinds_never_share_a_type() {
        for t in WEBHOOK_TYPES {
            assert!(is_webhook_type(t) && !is_operational_type(t));
        }
        for t in OPERATIONAL_TYPES {
            assert!(is_operational_type(t) && !is_webhook_type(t));
        }
        assert!(!is_webhook_type("nope") && !is_operational_type("nope"));
    }
}
