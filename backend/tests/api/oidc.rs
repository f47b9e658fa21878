//! Single sign-on against a provider on loopback (`oidc_issuer`): the happy path, each refused
//! token, replays, unmapped groups, role changes at the next sign-in, and local accounts off.

use crate::helpers::{spawn_app_with_sign_in, TestApp, PASSWORD};
use crate::oidc_issuer::{Issuer, NextUser, Spoil, CLIENT_ID, CLIENT_SECRET};
use backend::auth::oidc::{OidcSettings, RoleMap, SignInOptions};
use backend::secret::Secret;
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::Role;

fn settings(issuer: &Issuer) -> OidcSettings {
    OidcSettings {
        issuer: issuer.url.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(Secret::new(CLIENT_SECRET)),
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        role_claim: "groups".into(),
        role_map: RoleMap::parse(
            "gl-viewers=viewer,gl-ops=operator,gl-approvers=approver,gl-admins=admin",
        )
        .expect("a valid map"),
        display_name: "Test IdP".into(),
    }
}

async fn app_with_sso(local_accounts: bool) -> (TestApp, Issuer) {
    let issuer = Issuer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let app = spawn_app_with_sign_in(
        listener,
        SignInOptions {
            local_accounts,
            oidc: Some(settings(&issuer)),
        },
    )
    .await;
    (app, issuer)
}

/// A browser: its own cookies, following no redirects (each hop is checked).
struct Browser {
    http: reqwest::Client,
    app: String,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            app: app.url.clone(),
        }
    }

    /// GETs `url` and returns where it redirects to.
    async fn hop(&self, url: &str) -> String {
        let response = self.http.get(url).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::FOUND, "GET {url}");
        response.headers()[reqwest::header::LOCATION]
            .to_str()
            .expect("ascii")
            .to_owned()
    }

    /// Goes through the provider; returns the callback URL and where it sent the browser.
    async fn sign_in(&self) -> (String, String) {
        let at_provider = self
            .hop(&format!("{}/api/v1/session/oidc/start", self.app))
            .await;
        let callback = self.hop(&at_provider).await;
        assert!(
            callback.starts_with(&format!("{}/api/v1/session/oidc/callback?", self.app)),
            "{callback}"
        );
        let landed = self.hop(&callback).await;
        (callback, landed)
    }

    async fn session(&self) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}/api/v1/session", self.app))
            .send()
            .await
            .expect("request");
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.db.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn an_approver_group_member_signs_in_with_the_mapped_role_and_a_normal_session() {
    let (app, issuer) = app_with_sso(true).await;
    // A local account already has the name: single sign-on never takes it over.
    app.add_user("ann", Role::Viewer).await;
    issuer.next(NextUser::new(
        "sub-ann",
        "Ann@Example.com",
        &["other", "gl-approvers", "gl-viewers"],
    ));
    let browser = Browser::new(&app);
    let (_, landed) = browser.sign_in().await;
    assert_eq!(landed, "/");
    let (status, session) = browser.session().await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["user"]["role"], "approver");
    assert_eq!(session["user"]["username"], "ann-2");
    assert_eq!(session["user"]["must_change_password"], false);
    assert_eq!(session["csrf_token"].as_str().map(str::len), Some(64));

    let actions = app.audit_actions().await;
    let create = actions
        .iter()
        .find(|(action, target, _)| action == "user.create" && target == "ann-2")
        .expect("the account's creation is audited");
    assert_eq!(create.2["method"], "oidc");
    assert_eq!(create.2["role"], "approver");
    let (_, _, sign_in) = actions.last().expect("events");
    assert_eq!(
        actions.last().map(|a| a.0.as_str()),
        Some("session.sign_in")
    );
    assert_eq!(sign_in["method"], "oidc");
    // The account has no password: password sign-in with anything fails.
    let mut client = app.client();
    assert_eq!(
        client.sign_in("ann-2", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        client.sign_in("ann-2", "!oidc").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_signature_wrong_audience_expiry_and_nonce_are_all_refused() {
    let (app, issuer) = app_with_sso(true).await;
    for (spoil, code) in [
        (Spoil::Signature, "bad_signature"),
        (Spoil::Audience, "wrong_audience"),
        (Spoil::Expired, "expired_token"),
        (Spoil::Nonce, "wrong_nonce"),
    ] {
        let mut user = NextUser::new("sub-eve", "eve", &["gl-admins"]);
        user.spoil = spoil;
        issuer.next(user);
        let browser = Browser::new(&app);
        let (_, landed) = browser.sign_in().await;
        assert_eq!(landed, format!("/signin?sso_error={code}"), "{spoil:?}");
        assert_eq!(
            browser.session().await.0,
            StatusCode::UNAUTHORIZED,
            "{spoil:?}"
        );
        let (action, _, details) = app.audit_actions().await.pop().expect("an event");
        assert_eq!(
            (action.as_str(), &details["reason"]),
            ("session.sign_in_failed", &json!(code))
        );
    }
    assert_eq!(count(&app, "select count(*) from users").await, 0);
    assert_eq!(count(&app, "select count(*) from sessions").await, 0);
    assert_eq!(count(&app, "select count(*) from oidc_identities").await, 0);
}

#[tokio::test]
async fn a_state_is_used_once_and_only_by_the_browser_that_started_it() {
    let (app, issuer) = app_with_sso(true).await;
    issuer.next(NextUser::new("sub-ann", "ann", &["gl-ops"]));
    let browser = Browser::new(&app);
    let (callback, landed) = browser.sign_in().await;
    assert_eq!(landed, "/");
    // The same answer again (a replay), even from the browser that started it.
    assert_eq!(
        browser.hop(&callback).await,
        "/signin?sso_error=state_mismatch"
    );

    // An answer carried to another browser (no binding cookie) is refused, and used up.
    let victim = Browser::new(&app);
    let at_provider = victim
        .hop(&format!("{}/api/v1/session/oidc/start", app.url))
        .await;
    let stolen = victim.hop(&at_provider).await;
    let attacker = Browser::new(&app);
    assert_eq!(
        attacker.hop(&stolen).await,
        "/signin?sso_error=state_mismatch"
    );
    assert_eq!(attacker.session().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        victim.hop(&stolen).await,
        "/signin?sso_error=state_mismatch"
    );
    // A made-up state.
    let forged = format!("{}/api/v1/session/oidc/callback?code=x&state=y", app.url);
    assert_eq!(
        victim.hop(&forged).await,
        "/signin?sso_error=state_mismatch"
    );
    assert_eq!(count(&app, "select count(*) from sessions").await, 1);
}

#[tokio::test]
async fn a_user_without_a_mapped_group_is_refused_and_gets_no_account() {
    let (app, issuer) = app_with_sso(true).await;
    issuer.next(NextUser::new("sub-zed", "zed", &["marketing"]));
    let browser = Browser::new(&app);
    assert_eq!(browser.sign_in().await.1, "/signin?sso_error=no_role");
    assert_eq!(browser.session().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, "select count(*) from users").await, 0);
    let (action, target, details) = app.audit_actions().await.pop().expect("an event");
    assert_eq!(
        (action.as_str(), target.as_str()),
        ("session.sign_in_failed", "zed")
    );
    assert_eq!(details["reason"], "no_role");
}

#[tokio::test]
async fn role_changes_at_the_provider_apply_at_the_next_sign_in_and_disabled_stays_disabled() {
    let (app, issuer) = app_with_sso(true).await;
    issuer.next(NextUser::new("sub-ann", "ann", &["gl-approvers"]));
    assert_eq!(Browser::new(&app).sign_in().await.1, "/");
    issuer.next(NextUser::new("sub-ann", "renamed", &["gl-viewers"]));
    let browser = Browser::new(&app);
    assert_eq!(browser.sign_in().await.1, "/");
    let (_, session) = browser.session().await;
    assert_eq!(
        session["user"]["username"], "ann",
        "the account is found by sub, not name"
    );
    assert_eq!(session["user"]["role"], "viewer");
    let change = app
        .audit_actions()
        .await
        .into_iter()
        .find(|(action, _, _)| action == "user.role_change")
        .expect("the role change is audited");
    assert_eq!(change.1, "ann");
    assert_eq!(change.2["before"]["role"], "approver");
    assert_eq!(change.2["after"]["role"], "viewer");
    let actor: String =
        sqlx::query_scalar("select actor from audit_events where action = 'user.role_change'")
            .fetch_one(&app.db.pool)
            .await
            .expect("actor");
    assert_eq!(actor, "oidc");

    sqlx::query("update users set disabled_at = now() where username = 'ann'")
        .execute(&app.db.pool)
        .await
        .expect("disable");
    issuer.next(NextUser::new("sub-ann", "ann", &["gl-admins"]));
    let browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in().await.1,
        "/signin?sso_error=account_disabled"
    );
    assert_eq!(browser.session().await.0, StatusCode::UNAUTHORIZED);
    let role: String = sqlx::query_scalar("select role from users where username = 'ann'")
        .fetch_one(&app.db.pool)
        .await
        .expect("role");
    assert_eq!(role, "viewer", "a disabled account is not changed");
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_when_a_token_names_it() {
    let (app, issuer) = app_with_sso(true).await;
    issuer.next(NextUser::new("sub-ann", "ann", &["gl-ops"]));
    assert_eq!(Browser::new(&app).sign_in().await.1, "/");
    assert_eq!(Browser::new(&app).sign_in().await.1, "/");
    assert_eq!(issuer.jwks_fetches(), 1, "the keys are cached");
    issuer.rotate_key("key-2");
    assert_eq!(Browser::new(&app).sign_in().await.1, "/");
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn with_local_accounts_off_password_sign_in_is_refused_and_the_methods_say_so() {
    let (app, _issuer) = app_with_sso(false).await;
    app.add_user("alice", Role::Admin).await;
    let response = app
        .sign_in_request("alice", PASSWORD)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "local_accounts_disabled");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("single sign-on")));

    let (status, methods) = app.client().get("/api/v1/session/methods").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        methods,
        json!({ "local_accounts": false,
                "sso": { "display_name": "Test IdP", "start_url": "/api/v1/session/oidc/start" } })
    );
}

#[tokio::test]
async fn without_single_sign_on_the_methods_offer_passwords_and_start_says_why_not() {
    let app = crate::helpers::spawn_app().await;
    let (_, methods) = app.client().get("/api/v1/session/methods").await;
    assert_eq!(methods, json!({ "local_accounts": true, "sso": null }));
    let browser = Browser::new(&app);
    let at = browser
        .hop(&format!("{}/api/v1/session/oidc/start", app.url))
        .await;
    assert_eq!(at, "/signin?sso_error=not_configured");
}

#[tokio::test]
async fn start_sends_pkce_state_and_nonce_and_binds_them_to_a_short_lived_cookie() {
    let (app, issuer) = app_with_sso(true).await;
    let response = Browser::new(&app)
        .http
        .get(format!("{}/api/v1/session/oidc/start", app.url))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FOUND);
    let cookie = response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.starts_with("greenlight_oidc="), "{cookie}");
    for flag in [
        "Path=/api/v1/session/oidc",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("ascii");
    let url = oauth2::url::Url::parse(location).expect("a URL");
    assert!(location.starts_with(&format!("{}/authorize?", issuer.url)));
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["scope"], "openid profile email");
    assert_eq!(
        query["redirect_uri"],
        format!("{}/api/v1/session/oidc/callback", app.url)
    );
    for random in ["state", "nonce", "code_challenge"] {
        assert!(query[random].len() >= 22, "{random}: {}", query[random]);
    }
    // The state is stored only as its SHA-256.
    let (state_hash, nonce): (Vec<u8>, String) =
        sqlx::query_as("select state_hash, nonce from oidc_logins")
            .fetch_one(&app.db.pool)
            .await
            .expect("one pending sign-in");
    use sha2::Digest;
    assert_eq!(
        state_hash,
        sha2::Sha256::digest(query["state"].as_bytes()).to_vec()
    );
    assert_eq!(nonce, query["nonce"]);
}
