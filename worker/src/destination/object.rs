//! The Durable Object of one webhook destination: a thin shell over
//! [`Destination`](super::state::Destination) that decodes each command,
//! runs it, and replies with its result; its alarm resumes delivery.

use super::Command;
use super::state::Destination;
use crate::objects::{command, reply};
use std::rc::Rc;
use worker::{DurableObject, Env, Request, Response, Result, State, durable_object};

#[durable_object]
pub struct DestinationObject(Rc<Destination>);

impl DurableObject for DestinationObject {
    fn new(state: State, env: Env) -> Self {
        DestinationObject(Rc::new(Destination::new(state, env)))
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let d = &self.0;
        let cmd = match command::<Command>(&mut req).await {
            Ok(c) => c,
            Err(e) => return reply::<()>(Err(e)),
        };
        match cmd {
            Command::Init {
                secret,
                now_ms,
                config,
                signing,
            } => reply(d.init(secret, now_ms, config, signing).await),
            Command::Update {
                id,
                org_id,
                changes,
            } => reply(d.update(&id, &org_id, &changes).await),
            Command::Delete { id, org_id } => reply(d.delete(&id, &org_id).await),
            Command::Rotate { id, org_id } => reply(d.rotate(&id, &org_id).await),
            Command::PublicKey => reply(d.public_key().await),
            Command::Enqueue { deliveries } => reply(d.enqueue(&deliveries).await),
            Command::List { query } => reply(d.list(&query).await),
            Command::Get { delivery_id } => reply(d.get(&delivery_id).await),
            Command::Retry { delivery_id } => reply(d.retry(&delivery_id).await),
            Command::Holds { delivery_id } => reply(d.holds(&delivery_id).await),
            Command::Recover { request } => reply(d.recover(request).await),
            Command::RecoveryStatus { recovery_id } => reply(d.recovery_status(&recovery_id).await),
            Command::Stats { since_ms, until_ms } => reply(d.stats(since_ms, until_ms).await),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        match self.0.alarm().await {
            Ok(()) => Response::empty(),
            Err(e) => {
                worker::console_error!("delivery run failed, the platform retries it: {e:?}");
                Err(worker::Error::RustError(format!(
                    "delivery run failed: {e:?}"
                )))
            }
        }
    }
}
