//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Greenlight",
        description = "Safe rollouts of ML online endpoints. Every state-changing request needs \
                       the session cookie and the `x-csrf-token` header (see docs/API.md)."
    ),
    modifiers(&SessionCookie),
    tags(
        (name = "health", description = "Liveness of this instance"),
        (name = "session", description = "Signing in and out"),
        (name = "users", description = "Local accounts"),
        (name = "endpoints", description = "Online endpoints of the workspace"),
        (name = "deployments", description = "The model versions behind an endpoint"),
        (name = "traffic", description = "Live and mirrored split, changed against a version"),
        (name = "keys", description = "Endpoint keys: masked, revealed, regenerated"),
        (name = "assets", description = "Registered models, environments and code"),
        (name = "operations", description = "Long-running work that answered 202"),
        (name = "events", description = "The live feed (Server-Sent Events)"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "tokens", description = "API tokens for scripts: `Authorization: Bearer glt_…`"),
        (name = "webhooks", description = "Outgoing webhooks and their delivery log"),
    )
)]
pub struct ApiDoc;

struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::session::COOKIE_NAME,
            ))),
        );
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(utoipa::openapi::security::Http::new(
                utoipa::openapi::security::HttpAuthScheme::Bearer,
            )),
        );
    }
}
