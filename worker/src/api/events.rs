//! `POST /v1/{organization}/webhook_event/`: the producer publishes an event;
//! the organization's object turns it into one stored delivery per active
//! destination that accepts its type.

use crate::context::Caller;
use crate::http::{self, internal};
use crate::organization::client::OrganizationClient;
use edgehook_core::error::ApiError;
use edgehook_core::event::{MAX_EVENT_BYTES, check_event, check_idempotency_key};
use worker::{Env, Request, Response};

pub async fn handle(mut req: Request, env: &Env, caller: &Caller) -> Result<Response, ApiError> {
    let key = http::header(&req, "idempotency-key");
    if let Some(k) = &key {
        check_idempotency_key(k)?;
    }
    let body = http::body(&mut req, MAX_EVENT_BYTES).await?;
    let event_type = check_event(&body)?;
    let body = String::from_utf8(body).map_err(internal)?;
    let published = OrganizationClient::new(env, &caller.org_id)?
        .publish(&event_type, body, key.as_deref())
        .await?;
    http::json(202, &published)
}
