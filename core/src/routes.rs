//! The API's route table: every path the worker answers, the permission it
//! needs and the rate limit it falls under. The worker dispatches through
//! [`match_route`]; a test holds the served OpenAPI document to the same table.

use crate::auth;
use crate::destination::Kind;
use crate::error::ApiError;
use crate::ids::is_valid_id;

/// What a route is, independent of how it was spelled in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    ListDestinations,
    CreateDestination,
    GetDestination,
    UpdateDestination,
    DeleteDestination,
    RotateSecret,
    ListDeliveries,
    GetDelivery,
    RetryDelivery,
    RecoverDeliveries,
    GetRecovery,
    DestinationStats,
    PublishEvent,
    SendTestEvent,
    ListEventTypes,
    CreatePortalSession,
    RevokePortalSession,
    SignIn,
    AdminCreateOrganization,
    AdminCreateUser,
    AdminCreateApiKey,
    AdminRevokeApiKey,
    AdminGetMaintenance,
    AdminSetMaintenance,
    OpenApi,
    Health,
}

/// Which limit a route's calls count against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateClass {
    /// 20 a minute per user and endpoint.
    Standard,
    /// 5 a minute: sign-in and delivery queries.
    Slow,
    /// Not limited (operator API, the OpenAPI document).
    None,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub route: Route,
    pub method: &'static str,
    /// Path with `{name}` segments, exactly as in the OpenAPI document.
    pub path: &'static str,
    pub permission: Option<&'static str>,
    pub rate: RateClass,
}

const fn spec(
    route: Route,
    method: &'static str,
    path: &'static str,
    permission: Option<&'static str>,
    rate: RateClass,
) -> RouteSpec {
    RouteSpec {
        route,
        method,
        path,
        permission,
        rate,
    }
}

const DEST: &str = "/v1/{organization}/webhook_destination/";
const ONE: &str = "/v1/{organization}/webhook_destination/{webhook_destination_id}";
const OPS: &str = "/v1/{organization}/operational_destination/";
const OPS_ONE: &str = "/v1/{organization}/operational_destination/{operational_destination_id}";

/// Every route, in the order they are documented.
pub const ROUTES: &[RouteSpec] = &[
    spec(
        Route::ListDestinations,
        "GET",
        DEST,
        Some(auth::GET_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::CreateDestination,
        "POST",
        DEST,
        Some(auth::CREATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::GetDestination,
        "GET",
        ONE,
        Some(auth::GET_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::UpdateDestination,
        "POST",
        ONE,
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::DeleteDestination,
        "DELETE",
        ONE,
        Some(auth::DELETE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::RotateSecret,
        "POST",
        "/v1/{organization}/webhook_destination/{webhook_destination_id}/rotate-secret",
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::ListDeliveries,
        "GET",
        "/v1/{organization}/webhook_destination/{webhook_destination_id}/delivery",
        Some(auth::GET_DELIVERIES),
        RateClass::Slow,
    ),
    spec(
        Route::GetDelivery,
        "GET",
        "/v1/{organization}/webhook_destination/{webhook_destination_id}/delivery/{delivery_id}",
        Some(auth::GET_DELIVERIES),
        RateClass::Standard,
    ),
    spec(
        Route::RetryDelivery,
        "POST",
        "/v1/{organization}/webhook_destination/{webhook_destination_id}/delivery/{delivery_id}/retry",
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::RecoverDeliveries,
        "POST",
        "/v1/{organization}/webhook_destination/{webhook_destination_id}/recover",
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::GetRecovery,
        "GET",
        "/v1/{organization}/webhook_destination/{webhook_destination_id}/recover/{recovery_id}",
        Some(auth::GET_DELIVERIES),
        RateClass::Standard,
    ),
    spec(
        Route::DestinationStats,
        "GET",
        "/v1/{organization}/webhook_destination/{webhook_destination_id}/stats",
        Some(auth::GET_DELIVERIES),
        RateClass::Standard,
    ),
    // Operational destinations: the same resource for edgehook's own events,
    // with the same permissions, answered by the same handlers.
    spec(
        Route::ListDestinations,
        "GET",
        OPS,
        Some(auth::GET_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::CreateDestination,
        "POST",
        OPS,
        Some(auth::CREATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::GetDestination,
        "GET",
        OPS_ONE,
        Some(auth::GET_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::UpdateDestination,
        "POST",
        OPS_ONE,
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::DeleteDestination,
        "DELETE",
        OPS_ONE,
        Some(auth::DELETE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::RotateSecret,
        "POST",
        "/v1/{organization}/operational_destination/{operational_destination_id}/rotate-secret",
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::ListDeliveries,
        "GET",
        "/v1/{organization}/operational_destination/{operational_destination_id}/delivery",
        Some(auth::GET_DELIVERIES),
        RateClass::Slow,
    ),
    spec(
        Route::GetDelivery,
        "GET",
        "/v1/{organization}/operational_destination/{operational_destination_id}/delivery/{delivery_id}",
        Some(auth::GET_DELIVERIES),
        RateClass::Standard,
    ),
    spec(
        Route::RetryDelivery,
        "POST",
        "/v1/{organization}/operational_destination/{operational_destination_id}/delivery/{delivery_id}/retry",
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::RecoverDeliveries,
        "POST",
        "/v1/{organization}/operational_destination/{operational_destination_id}/recover",
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::GetRecovery,
        "GET",
        "/v1/{organization}/operational_destination/{operational_destination_id}/recover/{recovery_id}",
        Some(auth::GET_DELIVERIES),
        RateClass::Standard,
    ),
    spec(
        Route::DestinationStats,
        "GET",
        "/v1/{organization}/operational_destination/{operational_destination_id}/stats",
        Some(auth::GET_DELIVERIES),
        RateClass::Standard,
    ),
    spec(
        Route::SendTestEvent,
        "POST",
        "/v1/{organization}/webhook_destination/{webhook_destination_id}/test",
        Some(auth::UPDATE_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::ListEventTypes,
        "GET",
        "/v1/{organization}/event_type/",
        Some(auth::GET_DESTINATION),
        RateClass::Standard,
    ),
    spec(
        Route::CreatePortalSession,
        "POST",
        "/v1/{organization}/portal_session/",
        Some(auth::CREATE_PORTAL_SESSION),
        RateClass::Standard,
    ),
    spec(
        Route::RevokePortalSession,
        "DELETE",
        "/v1/{organization}/portal_session/{session_id}",
        Some(auth::CREATE_PORTAL_SESSION),
        RateClass::Standard,
    ),
    // Publishing is the producer's hot path: not rate limited per user.
    spec(
        Route::PublishEvent,
        "POST",
        "/v1/{organization}/webhook_event/",
        Some(auth::SEND_EVENT),
        RateClass::None,
    ),
    spec(
        Route::SignIn,
        "POST",
        "/v1/{organization}/user/signin_with_api_key",
        None,
        RateClass::Slow,
    ),
    spec(
        Route::AdminCreateOrganization,
        "POST",
        "/admin/v1/organizations",
        None,
        RateClass::None,
    ),
    spec(
        Route::AdminCreateUser,
        "POST",
        "/admin/v1/organizations/{organization}/users",
        None,
        RateClass::None,
    ),
    spec(
        Route::AdminCreateApiKey,
        "POST",
        "/admin/v1/organizations/{organization}/users/{user}/api_keys",
        None,
        RateClass::None,
    ),
    spec(
        Route::AdminRevokeApiKey,
        "DELETE",
        "/admin/v1/organizations/{organization}/users/{user}/api_keys/{key_id}",
        None,
        RateClass::None,
    ),
    spec(
        Route::AdminGetMaintenance,
        "GET",
        "/admin/v1/maintenance",
        None,
        RateClass::None,
    ),
    spec(
        Route::AdminSetMaintenance,
        "PUT",
        "/admin/v1/maintenance",
        None,
        RateClass::None,
    ),
    spec(
        Route::OpenApi,
        "GET",
        "/openapi.json",
        None,
        RateClass::None,
    ),
    spec(Route::Health, "GET", "/healthz", None, RateClass::None),
];

/// A request matched to a route, with its path parameters in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub spec: RouteSpec,
    pub params: Vec<(&'static str, String)>,
}

impl PartialEq for RouteSpec {
    fn eq(&self, other: &Self) -> bool {
        self.route == other.route
    }
}

impl Matched {
    /// Checks the path parameters' formats (422 as the seed API answers). Called
    /// after authentication, so an anonymous caller learns nothing but 401.
    pub fn check_params(&self) -> Result<(), ApiError> {
        for name in [
            "webhook_destination_id",
            "operational_destination_id",
            "delivery_id",
            "recovery_id",
        ] {
            if self.spec.path.contains(&format!("{{{name}}}")) && !is_valid_id(self.param(name)) {
                return Err(ApiError::invalid(
                    &["path", name],
                    "String should match pattern '^[a-f0-9]{24}$'",
                    "string_pattern_mismatch",
                ));
            }
        }
        Ok(())
    }

    /// The destination a path names, of either kind.
    pub fn destination_id(&self) -> &str {
        match self.param("webhook_destination_id") {
            "" => self.param("operational_destination_id"),
            id => id,
        }
    }

    /// The kind of destination a path is about.
    pub fn kind(&self) -> Kind {
        if self.spec.path.contains("/operational_destination/") {
            Kind::Operational
        } else {
            Kind::Webhook
        }
    }

    /// The value of a `{name}` segment.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// Why a request matched no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    MethodNotAllowed,
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// Finds the route for a method and path. A trailing slash is optional.
pub fn match_route(method: &str, path: &str) -> Result<Matched, NoRoute> {
    let got = segments(path);
    let mut method_mismatch = false;
    for spec in ROUTES {
        let want = segments(spec.path);
        if want.len() != got.len() {
            continue;
        }
        let mut params = Vec::new();
        let fits = want.iter().zip(&got).all(|(w, g)| {
            match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) if !g.is_empty() => {
                    params.push((name, percent_decode(g)));
                    true
                }
                Some(_) => false,
                None => w == g,
            }
        });
        if !fits {
            continue;
        }
        if !spec.method.eq_ignore_ascii_case(method) {
            method_mismatch = true;
            continue;
        }
        return Ok(Matched {
            spec: *spec,
            params,
        });
    }
    Err(if method_mismatch {
        NoRoute::MethodNotAllowed
    } else {
        NoRoute::NotFound
    })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.replace('+', "%2B").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef01234567";

    #[test]
    fn matches_seed_paths_with_or_without_trailing_slash() {
        let m = match_route("GET", "/v1/acme/webhook_destination/").unwrap();
        assert_eq!(
            (m.spec.route, m.param("organization")),
            (Route::ListDestinations, "acme")
        );
        assert_eq!(
            match_route("GET", "/v1/acme/webhook_destination")
                .unwrap()
                .spec
                .route,
            Route::ListDestinations
        );
        let m = match_route(
            "POST",
            &format!("/v1/acme/webhook_destination/{ID}/rotate-secret"),
        )
        .unwrap();
        assert_eq!(
            (m.spec.route, m.param("webhook_destination_id")),
            (Route::RotateSecret, ID)
        );
        assert_eq!(
            match_route("DELETE", &format!("/v1/acme/webhook_destination/{ID}"))
                .unwrap()
                .spec
                .route,
            Route::DeleteDestination
        );
    }

    #[test]
    fn operational_destinations_answer_at_their_own_paths() {
        let m = match_route("POST", "/v1/acme/operational_destination/").unwrap();
        assert_eq!(
            (m.spec.route, m.kind()),
            (Route::CreateDestination, Kind::Operational)
        );
        let m = match_route(
            "GET",
            &format!("/v1/acme/operational_destination/{ID}/delivery"),
        )
        .unwrap();
        assert_eq!(
            (m.spec.route, m.kind(), m.destination_id(), m.spec.rate),
            (
                Route::ListDeliveries,
                Kind::Operational,
                ID,
                RateClass::Slow
            )
        );
        let m = match_route("GET", &format!("/v1/acme/webhook_destination/{ID}")).unwrap();
        assert_eq!((m.kind(), m.destination_id()), (Kind::Webhook, ID));
        let bad = match_route("DELETE", "/v1/acme/operational_destination/nope").unwrap();
        assert_eq!(bad.check_params().unwrap_err().to_http().status, 422);
        let m = match_route(
            "GET",
            &format!("/v1/acme/webhook_destination/{ID}/recover/{ID}"),
        )
        .unwrap();
        assert_eq!(
            (m.spec.route, m.param("recovery_id")),
            (Route::GetRecovery, ID)
        );
        let bad = match_route(
            "GET",
            &format!("/v1/acme/webhook_destination/{ID}/recover/x"),
        )
        .unwrap();
        assert_eq!(bad.check_params().unwrap_err().to_http().status, 422);
        assert_eq!(
            match_route("GET", &format!("/v1/acme/webhook_destination/{ID}/stats"))
                .unwrap()
                .spec
                .route,
            Route::DestinationStats
        );
    }

    #[test]
    fn bad_ids_methods_and_paths() {
        let bad_id = match_route("GET", "/v1/acme/webhook_destination/XYZ").unwrap();
        assert_eq!(bad_id.check_params().unwrap_err().to_http().status, 422);
        assert!(
            match_route("GET", &format!("/v1/acme/webhook_destination/{ID}"))
                .unwrap()
                .check_params()
                .is_ok()
        );
        assert_eq!(
            match_route("PATCH", &format!("/v1/acme/webhook_destination/{ID}")),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(match_route("GET", "/v2/nothing"), Err(NoRoute::NotFound));
        assert_eq!(
            match_route("GET", "/v1//webhook_destination/"),
            Err(NoRoute::NotFound)
        );
    }

    #[test]
    fn revocation_names_the_organization_user_and_key() {
        let m = match_route(
            "DELETE",
            &format!("/admin/v1/organizations/acme/users/ann/api_keys/{ID}"),
        )
        .unwrap();
        assert_eq!(
            (
                m.spec.route,
                m.param("organization"),
                m.param("user"),
                m.param("key_id")
            ),
            (Route::AdminRevokeApiKey, "acme", "ann", ID)
        );
        assert_eq!(m.spec.rate, RateClass::None);
    }

    #[test]
    fn health_is_a_plain_get() {
        let m = match_route("GET", "/healthz").unwrap();
        assert_eq!((m.spec.route, m.spec.permission), (Route::Health, None));
        assert_eq!(
            match_route("POST", "/healthz"),
            Err(NoRoute::MethodNotAllowed)
        );
    }

    #[test]
    fn path_params_are_percent_decoded() {
        let m = match_route("POST", "/admin/v1/organizations/acme%20inc/users").unwrap();
        assert_eq!(m.param("organization"), "acme inc");
    }

    #[test]
    fn every_api_route_names_a_permission_and_a_limit() {
        for r in ROUTES
            .iter()
            .filter(|r| r.path.starts_with("/v1/") && r.route != Route::SignIn)
        {
            assert!(r.permission.is_some(), "{:?}", r.route);
            assert_eq!(
                r.rate == RateClass::None,
                r.route == Route::PublishEvent,
                "{:?}",
                r.route
            );
        }
        let deliveries = ROUTES
            .iter()
            .find(|r| r.route == Route::ListDeliveries)
            .unwrap();
        assert_eq!(deliveries.rate, RateClass::Slow);
    }

    #[test]
    fn openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(crate::OPENAPI_JSON).unwrap();
        let mut documented: Vec<(String, String)> = vec![];
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn a_match_is_its_route_and_its_parameters() {
        let path = format!("/v1/acme/webhook_destination/{ID}");
        assert_eq!(match_route("GET", &path), match_route("get", &path));
        assert_ne!(match_route("GET", &path), match_route("DELETE", &path));
        assert_ne!(
            match_route("GET", &path),
            match_route(
                "GET",
                "/v1/acme/webhook_destination/0123456789abcdef0123456f"
            )
        );
    }
}
