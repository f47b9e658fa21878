//! Single sign-on settings, checked once at start-up: a mistake names its flag there rather
//! than surfacing at someone's first sign-in.

use crate::config::SignInArgs;
use crate::secret::Secret;
use shared::Role;

/// A validated OpenID Connect configuration.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer exactly as configured (and as the provider's tokens must name it).
    pub issuer: String,
    pub client_id: String,
    /// `None` for a public client (PKCE alone).
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
    /// Where the groups are in the id_token: a claim name, or a dotted path into objects.
    pub role_claim: String,
    pub role_map: RoleMap,
    /// What the sign-in button names.
    pub display_name: String,
}

/// How to sign in on this server.
#[derive(Debug, Clone)]
pub struct SignInOptions {
    pub local_accounts: bool,
    pub oidc: Option<OidcSettings>,
}

impl Default for SignInOptions {
    /// Local accounts only.
    fn default() -> Self {
        Self {
            local_accounts: true,
            oidc: None,
        }
    }
}

impl SignInOptions {
    /// Checks the flags; each error names the flag to fix.
    pub fn from_args(args: &SignInArgs) -> anyhow::Result<Self> {
        let oidc = match &args.oidc_issuer {
            None => {
                let stray = [
                    ("--oidc-client-id", args.oidc_client_id.is_some()),
                    ("--oidc-client-secret", args.oidc_client_secret.is_some()),
                    ("--oidc-role-map", args.oidc_role_map.is_some()),
                ];
                if let Some((flag, _)) = stray.iter().find(|(_, set)| *set) {
                    anyhow::bail!("{flag} needs --oidc-issuer (single sign-on is off without it)");
                }
                None
            }
            Some(issuer) => Some(OidcSettings::from_args(issuer, args)?),
        };
        anyhow::ensure!(
            args.local_accounts || oidc.is_some(),
            "--local-accounts=false needs --oidc-issuer: otherwise nobody could sign in"
        );
        Ok(Self {
            local_accounts: args.local_accounts,
            oidc,
        })
    }
}

impl OidcSettings {
    fn from_args(issuer: &str, args: &SignInArgs) -> anyhow::Result<Self> {
        let parsed = oauth2::url::Url::parse(issuer).map_err(|e| {
            anyhow::anyhow!("--oidc-issuer must be an absolute URL (got {issuer:?}: {e})")
        })?;
        let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        anyhow::ensure!(
            parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback),
            "--oidc-issuer must be an https URL (plain http only on loopback, for tests); got {issuer:?}"
        );
        anyhow::ensure!(
            parsed.query().is_none() && parsed.fragment().is_none(),
            "--oidc-issuer must have no query or fragment (got {issuer:?})"
        );
        let client_id = args
            .oidc_client_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| anyhow::anyhow!("--oidc-issuer needs --oidc-client-id"))?;
        let scopes: Vec<String> = args
            .oidc_scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        anyhow::ensure!(
            scopes.iter().any(|s| s == "openid"),
            "--oidc-scopes must include openid (got {:?})",
            args.oidc_scopes
        );
        anyhow::ensure!(
            !args.oidc_role_claim.trim().is_empty(),
            "--oidc-role-claim must name a claim"
        );
        let raw_map = args.oidc_role_map.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "--oidc-issuer needs --oidc-role-map, e.g. gl-viewers=viewer,gl-approvers=approver"
            )
        })?;
        let role_map =
            RoleMap::parse(raw_map).map_err(|e| anyhow::anyhow!("--oidc-role-map: {e}"))?;
        let display_name = args
            .oidc_display_name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .or_else(|| parsed.host_str().map(str::to_owned))
            .unwrap_or_else(|| issuer.to_owned());
        Ok(Self {
            issuer: issuer.to_owned(),
            client_id,
            client_secret: args
                .oidc_client_secret
                .clone()
                .filter(|s| !s.expose().is_empty()),
            scopes,
            role_claim: args.oidc_role_claim.trim().to_owned(),
            role_map,
            display_name,
        })
    }
}

/// Which group gives which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap(Vec<(String, Role)>);

impl RoleMap {
    /// Parses `group=role,group=role`; the error names the entry and the rule.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut entries: Vec<(String, Role)> = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (group, role) = entry.rsplit_once('=').ok_or_else(|| {
                format!("{entry:?} is not group=role (e.g. gl-approvers=approver)")
            })?;
            let group = group.trim();
            if group.is_empty() {
                return Err(format!("{entry:?} names no group before '='"));
            }
            let role = role
                .trim()
                .parse::<Role>()
                .map_err(|e| format!("{entry:?}: {e}"))?;
            if entries.iter().any(|(g, _)| g == group) {
                return Err(format!("group {group:?} is mapped twice"));
            }
            entries.push((group.to_owned(), role));
        }
        if entries.is_empty() {
            return Err("map at least one group to a role, e.g. gl-approvers=approver".into());
        }
        Ok(Self(entries))
    }

    /// The highest role any of `groups` maps to.
    pub fn role_for<'a>(&self, groups: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        groups
            .into_iter()
            .filter_map(|group| {
                self.0
                    .iter()
                    .find(|(mapped, _)| mapped == group)
                    .map(|(_, role)| *role)
            })
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> SignInArgs {
        let mut argv = vec!["greenlight"];
        argv.extend_from_slice(extra);
        crate::config::Cli::try_parse_from(argv)
            .expect("parses")
            .serve
            .sign_in
            .as_ref()
            .clone()
    }

    #[test]
    fn the_highest_mapped_role_wins() {
        let map = RoleMap::parse("gl-viewers=viewer, gl-ops=operator,gl-approvers=approver")
            .expect("valid");
        assert_eq!(
            map.role_for(["gl-approvers", "other", "gl-viewers"]),
            Some(Role::Approver)
        );
        assert_eq!(map.role_for(["gl-ops"]), Some(Role::Operator));
        assert_eq!(map.role_for(["other"]), None);
        assert_eq!(map.role_for([]), None);
    }

    #[test]
    fn a_bad_role_map_names_the_entry_and_the_rule() {
        assert!(RoleMap::parse("gl-x=root").is_err_and(|e| e.contains("gl-x=root")));
        assert!(RoleMap::parse("gl-x").is_err_and(|e| e.contains("group=role")));
        assert!(RoleMap::parse("=admin").is_err_and(|e| e.contains("no group")));
        assert!(RoleMap::parse("a=admin,a=viewer").is_err_and(|e| e.contains("twice")));
        assert!(RoleMap::parse(" , ").is_err());
    }

    #[test]
    fn the_client_secret_never_shows_in_debug_output() {
        let parsed = args(&[
            "--oidc-issuer",
            "https://id.example.com",
            "--oidc-client-id",
            "gl",
            "--oidc-client-secret",
            "s3cr3t-value",
            "--oidc-role-map",
            "g=admin",
        ]);
        let options = SignInOptions::from_args(&parsed).expect("valid");
        for shown in [format!("{parsed:?}"), format!("{options:?}")] {
            assert!(!shown.contains("s3cr3t-value"), "{shown}");
        }
        let secret = options
            .oidc
            .and_then(|o| o.client_secret)
            .expect("a secret");
        assert_eq!(secret.expose(), "s3cr3t-value");
    }

    #[test]
    fn start_up_errors_name_the_flag() {
        let issuer = ["--oidc-issuer", "https://id.example.com"];
        let err = |extra: &[&str]| {
            SignInOptions::from_args(&args(extra))
                .expect_err("refused")
                .to_string()
        };
        assert!(err(&issuer).contains("--oidc-client-id"));
        let with_id = [&issuer[..], &["--oidc-client-id", "gl"]].concat();
        assert!(err(&with_id).contains("--oidc-role-map"));
        let bad_map = [&with_id[..], &["--oidc-role-map", "g=superuser"]].concat();
        assert!(err(&bad_map).contains("--oidc-role-map"));
        assert!(err(&["--local-accounts=false"]).contains("--oidc-issuer"));
        assert!(err(&[
            "--oidc-issuer",
            "http://id.example.com",
            "--oidc-client-id",
            "x"
        ])
        .contains("https"));
        let ok = [&with_id[..], &["--oidc-role-map", "g=admin"]].concat();
        let options = SignInOptions::from_args(&args(&ok)).expect("valid");
        let oidc = options.oidc.expect("configured");
        assert_eq!(oidc.display_name, "id.example.com");
        assert_eq!(oidc.scopes, ["openid", "profile", "email"]);
        assert!(options.local_accounts);
    }
}
