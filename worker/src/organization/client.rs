//! The typed client of an organization's object.

use super::{Command, Published};
use crate::objects::{ObjectStub, call, stub};
use edgehook_core::error::ApiError;
use edgehook_core::operational::Operational;
use worker::Env;

pub struct OrganizationClient {
    org_id: String,
    stub: ObjectStub,
}

impl OrganizationClient {
    /// The client of organization `org_id`'s object. Only organizations that
    /// exist get one: callers come through authentication or the operator.
    pub fn new(env: &Env, org_id: &str) -> Result<Self, ApiError> {
        Ok(OrganizationClient {
            org_id: org_id.to_string(),
            stub: stub(env, "ORGANIZATIONS", org_id)?,
        })
    }

    pub async fn publish(
        &self,
        event_type: &str,
        body: String,
        idempotency_key: Option<&str>,
    ) -> Result<Published, ApiError> {
        call(
            &self.stub,
            &Command::Publish {
                org_id: self.org_id.clone(),
                event_type: event_type.to_string(),
                body,
                idempotency_key: idempotency_key.map(str::to_string),
            },
        )
        .await
    }

    /// Sends one of edgehook's operational events to the organization's
    /// operational destinations (none when the event is about an operational
    /// destination). A failure is logged: the change it reports already happened.
    pub async fn announce(&self, event: Option<Operational>) {
        let Some(e) = event else {
            return;
        };
        if let Err(err) = self
            .publish(e.event_type, e.body, Some(&e.idempotency_key))
            .await
        {
            worker::console_error!(
                "organization {}: operational event {} not sent ({err:?})",
                self.org_id,
                e.idempotency_key
            );
        }
    }

    /// Tells the organization's object that its routing table changed. A
    /// failure is logged and left to the table's time limit
    /// (`ROUTING_TTL_MS`): the change itself already happened in D1.
    pub async fn routes_changed(&self) {
        if let Err(e) = call::<_, ()>(&self.stub, &Command::RoutesChanged).await {
            worker::console_error!(
                "organization {}: routing change not signalled ({e:?}); it applies within the routing TTL",
                self.org_id
            );
        }
    }
}
