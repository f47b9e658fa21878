//! `greenlight`: see `greenlight --help`.

fn main() -> std::process::ExitCode {
    backend::cli::main()
}
