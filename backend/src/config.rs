//! Command-line and environment configuration. Each flag's doc comment is its `--help` text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use shared::Role;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "greenlight",
    version,
    about = "Greenlight: a browser console for safe rollouts of ML online endpoints.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, the default command.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the console and its API (the default command).
    Serve(Box<ServeArgs>),
    /// Manage local accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage API tokens for scripts and service accounts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run only the local workspace: an Azure ML online-endpoint emulator that really serves
    /// models, speaking the ARM REST API.
    Emulator(EmulatorArgs),
}

/// How the local workspace runs its model instances.
#[derive(Debug, Clone, Args)]
pub struct WorkspaceArgs {
    /// Python 3 interpreter for model instances (the scoring harness needs only its standard
    /// library).
    #[arg(long, env = "GREENLIGHT_PYTHON", default_value = "python3")]
    pub python: PathBuf,
    /// Demo models to register as assets at start-up (each folder with model/ and code/).
    #[arg(long, env = "GREENLIGHT_EXAMPLES_DIR", default_value = "examples")]
    pub examples_dir: PathBuf,
}

/// Which workspace Greenlight drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkspaceKind {
    /// The embedded local workspace (an Azure ML emulator; no cloud account needed).
    Local,
    /// An Azure ML workspace, through Azure Resource Manager.
    Azure,
}

/// Where Azure credentials come from (see `azure_identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AzureCredentialKind {
    /// The Azure CLI, then the Azure Developer CLI, as signed in on this machine.
    DeveloperTools,
    /// The Azure CLI only (`az login`).
    AzureCli,
    /// The managed identity of the VM, App Service or container Greenlight runs in.
    ManagedIdentity,
    /// A service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET from the
    /// environment.
    ClientSecret,
}

/// The Azure ML workspace to drive, when `--workspace azure`.
#[derive(Debug, Clone, Args)]
pub struct AzureArgs {
    /// `local` runs the embedded local workspace; `azure` drives an Azure ML workspace.
    #[arg(
        long = "workspace",
        id = "workspace_kind",
        env = "GREENLIGHT_WORKSPACE",
        value_enum,
        default_value_t = WorkspaceKind::Local
    )]
    pub kind: WorkspaceKind,
    /// Azure subscription id of the workspace.
    #[arg(long, env = "GREENLIGHT_AZURE_SUBSCRIPTION")]
    pub azure_subscription: Option<String>,
    /// Resource group of the workspace.
    #[arg(long, env = "GREENLIGHT_AZURE_RESOURCE_GROUP")]
    pub azure_resource_group: Option<String>,
    /// Name of the Azure ML workspace.
    #[arg(long, env = "GREENLIGHT_AZURE_WORKSPACE")]
    pub azure_workspace: Option<String>,
    /// Azure Resource Manager's address; another for a sovereign cloud (e.g.
    /// https://management.usgovcloudapi.net).
    #[arg(
        long,
        env = "GREENLIGHT_ARM_ENDPOINT",
        default_value = "https://management.azure.com"
    )]
    pub arm_endpoint: String,
    /// The resource tokens are asked for; defaults to --arm-endpoint.
    #[arg(long, env = "GREENLIGHT_ARM_AUDIENCE")]
    pub arm_audience: Option<String>,
    /// Where the Azure token comes from.
    #[arg(
        long,
        env = "GREENLIGHT_AZURE_CREDENTIAL",
        value_enum,
        default_value_t = AzureCredentialKind::DeveloperTools
    )]
    pub azure_credential: AzureCredentialKind,
    /// Client id of a user-assigned managed identity (system-assigned when left out).
    #[arg(long, env = "GREENLIGHT_AZURE_MANAGED_IDENTITY_CLIENT_ID")]
    pub azure_managed_identity_client_id: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Address of the control plane (ARM API). Port 0 picks a free port.
    #[arg(
        long,
        env = "GREENLIGHT_EMULATOR_LISTEN",
        default_value = "127.0.0.1:8090"
    )]
    pub listen: SocketAddr,
    /// Address of the data plane (scoring URIs). Port 0 picks a free port.
    #[arg(
        long,
        env = "GREENLIGHT_EMULATOR_SCORING_LISTEN",
        default_value = "127.0.0.1:8091"
    )]
    pub scoring_listen: SocketAddr,
    /// Folder for the workspace's state (endpoints, deployments, keys, assets).
    #[arg(long, env = "GREENLIGHT_STATE_DIR", default_value = ".greenlight")]
    pub state_dir: PathBuf,
    /// Bearer token ARM requests must carry. Without it a random one is made and printed.
    #[arg(long, env = "GREENLIGHT_EMULATOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Serve both planes over HTTPS with a self-signed certificate for 127.0.0.1 and
    /// localhost (made once, kept in the state folder; its path is printed). Azure's client
    /// libraries send bearer tokens only over https.
    #[arg(long, env = "GREENLIGHT_EMULATOR_TLS")]
    pub tls: bool,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

/// Where the data lives: an existing Postgres, or the private one under the state directory.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Folder for Greenlight's own state; holds the private Postgres cluster when
    /// DATABASE_URL is not set.
    #[arg(long, env = "GREENLIGHT_STATE_DIR", default_value = ".greenlight")]
    pub state_dir: PathBuf,
    /// Postgres to use instead of the private cluster, e.g. postgres://user@host/greenlight.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on. Port 0 picks a free port (the URL printed at start-up tells which).
    #[arg(long, env = "GREENLIGHT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder with the built console (index.html and assets/).
    #[arg(long, env = "GREENLIGHT_UI_DIR", default_value = "frontend/dist")]
    pub ui_dir: PathBuf,
    /// The URL people reach the console at, when it differs from the listen address (behind a
    /// proxy). An https URL marks the session cookie Secure.
    #[arg(long, env = "GREENLIGHT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Also create the demo accounts alice (operator) and bob (approver), printing their
    /// passwords once, for trying the approval flow.
    #[arg(long, env = "GREENLIGHT_DEMO")]
    pub demo: bool,
    /// Minutes without a request after which a session ends.
    #[arg(long, env = "GREENLIGHT_SESSION_IDLE_MINUTES", default_value_t = 120)]
    pub session_idle_minutes: u64,
    /// Hours after sign-in after which a session ends, however busy.
    #[arg(long, env = "GREENLIGHT_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u64,
    /// Log line format (the level comes from RUST_LOG, default info).
    #[arg(long, env = "GREENLIGHT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub azure: AzureArgs,
    /// Boxed: the flags' strings would make `serve` the one large variant of [`Command`].
    #[command(flatten)]
    pub sign_in: Box<SignInArgs>,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// How outgoing webhooks are delivered.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Waits between a failed webhook delivery's attempts, comma-separated (units ms, s, m, h);
    /// after the last one the delivery has failed. Each wait varies by ±20 %.
    #[arg(
        long,
        env = "GREENLIGHT_WEBHOOK_RETRY_DELAYS",
        value_delimiter = ',',
        value_parser = crate::webhooks::parse_delay,
        default_value = "5s,30s,2m,10m,1h"
    )]
    pub webhook_retry_delays: Vec<std::time::Duration>,
    /// Seconds a webhook receiver has to answer.
    #[arg(long, env = "GREENLIGHT_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10)]
    pub webhook_timeout_seconds: u64,
}

impl WebhookArgs {
    pub fn settings(&self) -> crate::webhooks::NotifierSettings {
        crate::webhooks::NotifierSettings {
            retry_delays: self.webhook_retry_delays.clone(),
            timeout: std::time::Duration::from_secs(self.webhook_timeout_seconds.max(1)),
            ..crate::webhooks::NotifierSettings::default()
        }
    }
}

/// How people sign in: local accounts and / or single sign-on with an OpenID Connect provider
/// (checked at start-up by `crate::auth::oidc::OidcSettings::from_args`).
#[derive(Debug, Clone, Args)]
pub struct SignInArgs {
    /// Whether local accounts (user name and password) may sign in. `--local-accounts=false`
    /// leaves single sign-on as the only way in (it then needs --oidc-issuer).
    #[arg(
        long,
        env = "GREENLIGHT_LOCAL_ACCOUNTS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub local_accounts: bool,
    /// The OpenID Connect issuer, e.g. https://login.microsoftonline.com/<tenant>/v2.0; its
    /// /.well-known/openid-configuration is read on first use. Single sign-on is off without it.
    #[arg(long, env = "GREENLIGHT_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The client (application) id registered at the provider.
    #[arg(long, env = "GREENLIGHT_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client secret (prefer the environment variable; never logged).
    #[arg(
        long,
        env = "GREENLIGHT_OIDC_CLIENT_SECRET",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub oidc_client_secret: Option<crate::secret::Secret>,
    /// Scopes asked for, separated by spaces.
    #[arg(
        long,
        env = "GREENLIGHT_OIDC_SCOPES",
        default_value = "openid profile email"
    )]
    pub oidc_scopes: String,
    /// The id_token claim holding the user's groups (a string or a list; a dotted path such as
    /// realm_access.roles reaches into objects).
    #[arg(long, env = "GREENLIGHT_OIDC_ROLE_CLAIM", default_value = "groups")]
    pub oidc_role_claim: String,
    /// Group → role, e.g. gl-viewers=viewer,gl-ops=operator,gl-approvers=approver,gl-admins=admin.
    /// The highest role among a user's groups wins; a user with none of them is refused.
    #[arg(long, env = "GREENLIGHT_OIDC_ROLE_MAP")]
    pub oidc_role_map: Option<String>,
    /// The provider's name on the sign-in button ("Sign in with …"); the issuer's host when
    /// left out.
    #[arg(long, env = "GREENLIGHT_OIDC_DISPLAY_NAME")]
    pub oidc_display_name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a local account and print its generated password once (or read it from stdin).
    Add(UserAddArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The account name: 2–64 lowercase letters, digits, '.', '_' or '-', starting with a letter.
    pub name: String,
    /// What the account may do.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token acting as a user and print its secret once, alone on standard
    /// output (send it as `Authorization: Bearer <secret>`).
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The user the token acts as (its creator).
    #[arg(long)]
    pub user: String,
    /// The token's name: lowercase letters, digits, '.', '_' or '-'; unique among the user's
    /// unrevoked tokens.
    #[arg(long)]
    pub name: String,
    /// What the token may do: at most the user's own role.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// How long it works: 30d, 4w or 1y (at most a year).
    #[arg(long, value_parser = shared::api::tokens::parse_token_lifetime)]
    pub expires_in: u32,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain and name the first row that does not match.
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

fn parse_secret(raw: &str) -> Result<crate::secret::Secret, std::convert::Infallible> {
    Ok(crate::secret::Secret::new(raw))
}

fn parse_role(raw: &str) -> Result<Role, String> {
    raw.parse::<Role>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["greenlight"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn token_create_takes_a_lifetime_in_days_weeks_or_a_year() {
        let parse = |lifetime: &str| {
            Cli::try_parse_from([
                "greenlight",
                "token",
                "create",
                "--user",
                "alice",
                "--name",
                "ci",
                "--role",
                "viewer",
                "--expires-in",
                lifetime,
            ])
        };
        match parse("4w").expect("parses").command {
            Some(Command::Token(TokenCommand::Create(args))) => assert_eq!(args.expires_in, 28),
            other => panic!("not token create: {other:?}"),
        }
        let err = parse("2y").expect_err("too long");
        assert!(err.to_string().contains("365 days"), "{err}");
    }

    #[test]
    fn user_add_refuses_an_unknown_role_naming_the_allowed_ones() {
        let err = Cli::try_parse_from(["greenlight", "user", "add", "carol", "--role", "root"])
            .expect_err("root is not a role");
        assert!(err
            .to_string()
            .contains("viewer, operator, approver, admin"));
    }
}
