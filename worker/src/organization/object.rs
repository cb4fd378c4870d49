//! The Durable Object of one organization: a thin shell over
//! [`Publisher`](super::publisher::Publisher); its alarm forgets expired
//! idempotency keys.

use super::Command;
use super::publisher::Publisher;
use crate::objects::{command, reply};
use worker::{DurableObject, Env, Request, Response, Result, State, durable_object};

#[durable_object]
pub struct OrganizationObject(Publisher);

impl DurableObject for OrganizationObject {
    fn new(state: State, env: Env) -> Self {
        OrganizationObject(Publisher::new(state, env))
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let p = &self.0;
        match command::<Command>(&mut req).await {
            Ok(Command::Publish {
                org_id,
                event_type,
                body,
                idempotency_key,
            }) => reply(
                p.publish(&org_id, &event_type, body, idempotency_key.as_deref())
                    .await,
            ),
            Ok(Command::RoutesChanged) => reply({
                p.routes_changed();
                Ok(())
            }),
            Err(e) => reply::<()>(Err(e)),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        match self.0.forget_expired_keys().await {
            Ok(()) => Response::empty(),
            Err(e) => Err(worker::Error::RustError(format!(
                "idempotency purge failed: {e:?}"
            ))),
        }
    }
}
