//! Handing deliveries to destinations' objects, from an organization's
//! object: at most one call in flight per destination, and the deliveries of
//! the publishes that arrive meanwhile go together in the next call, in the
//! order they arrived (as many as `edgehook_core::publish::handoff_batch`
//! allows). An idle destination gets each delivery at once; under load one
//! object request carries many, and the destination's run is woken once for
//! all of them. Each publish still answers only once its own delivery is
//! stored, and a failed call fails every publish whose delivery it carried.

use crate::destination::client::DestinationClient;
use crate::destination::{Enqueued, NewDelivery};
use crate::http::internal;
use edgehook_core::error::ApiError;
use edgehook_core::publish::handoff_batch;
use futures_channel::oneshot;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use worker::Env;
use worker::wasm_bindgen_futures::spawn_local;

/// A delivery waiting for its handoff, and where its outcome goes.
type Waiting = (NewDelivery, oneshot::Sender<Result<Enqueued, ApiError>>);

/// The deliveries waiting for each destination that has a call in flight; a
/// destination is listed exactly while its sender runs.
#[derive(Clone, Default)]
pub struct Handoffs(Rc<RefCell<HashMap<String, VecDeque<Waiting>>>>);

impl Handoffs {
    /// Hands `delivery` to the destination's object and answers what became
    /// of it once that object has stored it.
    pub async fn hand(
        &self,
        env: &Env,
        destination_id: &str,
        delivery: NewDelivery,
    ) -> Result<Enqueued, ApiError> {
        let (answer, outcome) = oneshot::channel();
        let start = {
            let mut queues = self.0.borrow_mut();
            match queues.get_mut(destination_id) {
                Some(waiting) => {
                    waiting.push_back((delivery, answer));
                    false
                }
                None => {
                    queues.insert(
                        destination_id.to_string(),
                        VecDeque::from([(delivery, answer)]),
                    );
                    true
                }
            }
        };
        if start {
            let (handoffs, env, id) = (self.clone(), env.clone(), destination_id.to_string());
            spawn_local(async move { handoffs.send_all(&env, &id).await });
        }
        outcome.await.unwrap_or_else(|_| {
            Err(internal(format!(
                "handoff to destination {destination_id} ended without an answer"
            )))
        })
    }

    /// Sends what waits for the destination, a batch at a time, until
    /// nothing does; then the destination is no longer listed.
    async fn send_all(&self, env: &Env, destination_id: &str) {
        loop {
            let batch: Vec<Waiting> = {
                let mut queues = self.0.borrow_mut();
                let Some(waiting) = queues.get_mut(destination_id) else {
                    return;
                };
                let n = handoff_batch(waiting.iter().map(|(d, _)| d.body.len()));
                if n == 0 {
                    queues.remove(destination_id);
                    return;
                }
                waiting.drain(..n).collect()
            };
            let (deliveries, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let stored = match DestinationClient::new(env, destination_id) {
                Ok(client) => client.enqueue_all(deliveries).await,
                Err(e) => Err(e),
            };
            match stored {
                Ok(outcomes) => {
                    for (answer, outcome) in answers.into_iter().zip(outcomes) {
                        // A publish that went away meanwhile needs no answer.
                        let _ = answer.send(Ok(outcome));
                    }
                }
                Err(e) => {
                    for answer in answers {
                        let _ = answer.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}
