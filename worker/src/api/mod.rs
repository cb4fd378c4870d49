//! The API: one module per resource; [`dispatch`] sends a matched route to its handler.

mod admin;
mod deliveries;
mod destinations;
pub mod events;
mod health;
pub mod portal;
mod signin;

use crate::context;
use edgehook_core::error::ApiError;
use edgehook_core::routes::{Matched, Route};
use worker::{Env, Request, Response};

pub async fn dispatch(req: Request, env: &Env, m: &Matched) -> Result<Response, ApiError> {
    match m.spec.route {
        Route::OpenApi => {
            let mut resp = Response::ok(openapi()?).map_err(crate::http::internal)?;
            resp.headers_mut()
                .set("content-type", "application/json")
                .map_err(crate::http::internal)?;
            Ok(resp)
        }
        Route::Health => health::handle(env),
        Route::SignIn => signin::sign_in(req, env, m).await,
        Route::AdminCreateOrganization
        | Route::AdminCreateUser
        | Route::AdminCreateApiKey
        | Route::AdminRevokeApiKey
        | Route::AdminGetMaintenance
        | Route::AdminSetMaintenance => admin::handle(req, env, m).await,
        Route::ListDestinations
        | Route::CreateDestination
        | Route::GetDestination
        | Route::UpdateDestination
        | Route::DeleteDestination
        | Route::RotateSecret => {
            let caller = context::enter(&req, env, m).await?;
            destinations::handle(req, env, m, &caller).await
        }
        Route::ListDeliveries
        | Route::GetDelivery
        | Route::RetryDelivery
        | Route::RecoverDeliveries
        | Route::GetRecovery
        | Route::DestinationStats => {
            let caller = context::enter(&req, env, m).await?;
            deliveries::handle(req, env, m, &caller).await
        }
        Route::SendTestEvent => {
            let caller = context::enter(&req, env, m).await?;
            events::send_test(req, env, m, &caller).await
        }
        Route::CreatePortalSession => {
            let caller = context::enter(&req, env, m).await?;
            portal::create(req, env, &caller).await
        }
        Route::RevokePortalSession => {
            let caller = context::enter(&req, env, m).await?;
            portal::revoke(env, m, &caller).await
        }
        Route::ListEventTypes => {
            context::enter(&req, env, m).await?;
            events::catalog()
        }
        Route::PublishEvent => {
            let caller = context::enter(&req, env, m).await?;
            events::handle(req, env, &caller).await
        }
    }
}

/// The OpenAPI document with the event catalog's schemas, built once per isolate.
fn openapi() -> Result<String, ApiError> {
    thread_local! {
        static DOC: std::cell::OnceCell<String> = const { std::cell::OnceCell::new() };
    }
    if let Some(doc) = DOC.with(|d| d.get().cloned()) {
        return Ok(doc);
    }
    let doc = edgehook_core::event_catalog::with_event_schemas(edgehook_core::OPENAPI_JSON)
        .map_err(ApiError::Internal)?;
    DOC.with(|d| {
        let _ = d.set(doc.clone());
    });
    Ok(doc)
}
