//! Dispatching the command line to `serve`, `user add`, `token create` and `audit verify`.

use crate::audit::{self, Anchor, Verdict};
use crate::auth::password;
use crate::config::{
    AuditCommand, Cli, Command, LogFormat, TokenCommand, TokenCreateArgs, UserAddArgs, UserCommand,
};
use crate::postgres::Database;
use crate::secret::Secret;
use crate::store::users::{self, PasswordOrigin};
use crate::{server, telemetry};
use anyhow::Context;
use clap::Parser;
use shared::api::check_new_password;
use shared::Username;
use std::io::BufRead;
use std::process::ExitCode;

/// Recorded as the actor of changes made from the command line.
const CLI_ACTOR: &str = "cli";

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(*args).await,
        Some(Command::Emulator(args)) => {
            telemetry::init(LogFormat::Text, "info");
            crate::server::emulator_only(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::User(UserCommand::Add(args))) => {
            telemetry::init(LogFormat::Text, "warn");
            user_add(args).await
        }
        Some(Command::Token(TokenCommand::Create(args))) => {
            telemetry::init(LogFormat::Text, "warn");
            token_create(args).await
        }
        Some(Command::Audit(AuditCommand::Verify(args))) => {
            telemetry::init(LogFormat::Text, "warn");
            let database = Database::open(
                args.database.database_url.as_deref(),
                &args.database.state_dir,
            )
            .await?;
            let verdict = verify(&database.pool, &args.database.state_dir).await;
            database.close().await;
            verdict
        }
    }
}

/// `greenlight audit verify`: the chain, and that it still reaches the signed checkpoint.
async fn verify(pool: &sqlx::PgPool, state_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let path = state_dir.join(audit::checkpoint::CHECKPOINT_FILE);
    let database = audit::checkpoint::database_name(pool).await?;
    let anchor = match audit::checkpoint::load(state_dir, &database) {
        Ok(anchor) => anchor,
        Err(err) => {
            println!("audit log BROKEN: {err:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let head = match &anchor {
        Anchor::Signed(head) => Some(head),
        Anchor::None | Anchor::OtherDatabase(_) => None,
    };
    Ok(match audit::verify_anchored(pool, head).await? {
        Verdict::Intact { rows } => {
            let anchored = match &anchor {
                Anchor::Signed(head) => format!(
                    "reaches the signed checkpoint in {} (event {}, {} events)",
                    path.display(),
                    head.last_id,
                    head.count
                ),
                Anchor::None => format!(
                    "no checkpoint in {}, so a cut tail would go unnoticed",
                    path.display()
                ),
                Anchor::OtherDatabase(other) => format!(
                    "the checkpoint in {} is of database {other}, so a cut tail would go \
                     unnoticed",
                    path.display()
                ),
            };
            println!("audit log OK: {rows} events, hash chain intact; {anchored}");
            ExitCode::SUCCESS
        }
        Verdict::Broken { id, reason } => {
            let checkpoint = match &anchor {
                Anchor::Signed(_) => format!(" (checkpoint {})", path.display()),
                Anchor::None | Anchor::OtherDatabase(_) => String::new(),
            };
            println!("audit log BROKEN at event {id}: {reason}{checkpoint}");
            ExitCode::FAILURE
        }
    })
}

async fn serve(args: crate::config::ServeArgs) -> anyhow::Result<ExitCode> {
    telemetry::init(args.log_format, "info");
    server::serve(args).await?;
    Ok(ExitCode::SUCCESS)
}

async fn user_add(args: UserAddArgs) -> anyhow::Result<ExitCode> {
    let username = Username::parse(&args.name).context("invalid user name")?;
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        check_new_password(&password).map_err(anyhow::Error::msg)?;
        (Secret::new(password), false)
    } else {
        (password::generate(), true)
    };
    let hash = password::hash_blocking(password.clone()).await?;
    let database = Database::open(
        args.database.database_url.as_deref(),
        &args.database.state_dir,
    )
    .await?;
    // A generated password is handed to someone: it is one-time. One typed on standard input
    // was chosen by whoever runs the command, usually the account's owner.
    let origin = if generated {
        PasswordOrigin::OneTime
    } else {
        PasswordOrigin::Owner
    };
    let created = users::create(
        &database.pool,
        CLI_ACTOR,
        &username,
        args.role,
        &hash,
        origin,
    )
    .await;
    database.close().await;
    let user = created?;
    println!("created user {} with role {}", user.username, user.role);
    if generated {
        println!(
            "one-time password (shown only this once; changed at first sign-in): {}",
            password.expose()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `greenlight token create`: the secret alone on standard output (so a script can capture it),
/// what was created on standard error.
async fn token_create(args: TokenCreateArgs) -> anyhow::Result<ExitCode> {
    use shared::api::tokens::{check_token_name, check_token_role};
    let username = Username::parse(&args.user).context("invalid user name")?;
    check_token_name(&args.name).map_err(anyhow::Error::msg)?;
    let database = Database::open(
        args.database.database_url.as_deref(),
        &args.database.state_dir,
    )
    .await?;
    let created = async {
        let mut conn = database.pool.acquire().await?;
        let user = users::find_by_username(&mut conn, &username)
            .await?
            .with_context(|| format!("there is no user {username}"))?
            .info;
        drop(conn);
        anyhow::ensure!(!user.disabled, "user {username} is disabled");
        check_token_role(args.role, user.role).map_err(anyhow::Error::msg)?;
        let (secret, secret_hash) = crate::auth::tokens::new_secret();
        let new = crate::store::tokens::NewToken {
            name: &args.name,
            role: args.role,
            days: args.expires_in,
            secret_hash: &secret_hash,
        };
        let token =
            crate::store::tokens::create(&database.pool, CLI_ACTOR, (user.id, &username), &new)
                .await?;
        Ok::<_, anyhow::Error>((token, secret))
    }
    .await;
    database.close().await;
    let (token, secret) = created?;
    eprintln!(
        "created token {} of {} with role {}, expiring {} (the secret below is shown only once)",
        token.name,
        token.created_by,
        token.role,
        token
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    println!("{}", secret.expose());
    Ok(ExitCode::SUCCESS)
}
