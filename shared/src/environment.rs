//! What a deployment may put in its instances' environment, and where its scoring script may
//! be: the rules that keep a deployment's settings from steering anything but its own model code.
//!
//! An instance is an interpreter started by Greenlight (locally) or by Azure's inference server.
//! Its environment is read before any model code runs — by the dynamic loader, libc, the Python
//! interpreter and the programs the standard library starts — so a variable those act on turns
//! "set an environment variable" into "run any command on the host" (e.g. `PYTHONWARNINGS`
//! importing `antigravity`, which runs `$BROWSER`). [`check_variable_name`] refuses such names,
//! whatever their case; [`check_scoring_script`] keeps the script inside its code asset. The
//! console API and the local workspace's ARM layer both call them, so both refuse the same names.

use std::fmt;

/// Why a variable name or a scoring script path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvironmentRule {
    /// Not `[A-Za-z_][A-Za-z0-9_]*`.
    Malformed,
    /// A name the loader, libc, a shell, an interpreter or the harness acts on; `why` says which.
    Reserved { why: &'static str },
    /// A value with a NUL character, which no process environment can hold.
    NulInValue,
}

impl fmt::Display for EnvironmentRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => {
                f.write_str("a variable name is a letter or '_' followed by letters, digits or '_'")
            }
            Self::Reserved { why } => write!(f, "this name is reserved: {why}"),
            Self::NulInValue => f.write_str("a variable's value may not contain a NUL character"),
        }
    }
}

/// Names refused by prefix (compared in upper case), each family with why it is refused.
const RESERVED_PREFIXES: &[(&str, &str)] = &[
    (
        "PYTHON",
        "the Python interpreter reads PYTHON* at start-up (PYTHONPATH, PYTHONHOME, \
         PYTHONSTARTUP, PYTHONWARNINGS import modules or run code before the model's)",
    ),
    (
        "LD_",
        "the dynamic loader reads LD_* (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT load libraries \
         into the interpreter)",
    ),
    (
        "MALLOC_",
        "glibc's allocator reads MALLOC_* (MALLOC_TRACE writes to a file of its choosing)",
    ),
    (
        "BASH_FUNC_",
        "bash imports BASH_FUNC_* as functions in every shell the instance starts",
    ),
    (
        "PERL5",
        "perl loads modules and options from PERL5LIB / PERL5OPT",
    ),
];

/// Names refused exactly (compared in upper case), grouped by what acts on them.
const RESERVED_NAMES: &[(&[&str], &str)] = &[
    (
        &["PATH", "HOME", "AZUREML_MODEL_DIR"],
        "the local workspace sets it for every instance (which programs run, the instance's \
         own folder, where the model is)",
    ),
    (
        &[
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "GETCONF_DIR",
            "HOSTALIASES",
            "LOCALDOMAIN",
            "LOCPATH",
            "NIS_PATH",
            "NLSPATH",
            "RESOLV_HOST_CONF",
            "RES_OPTIONS",
            "TZDIR",
        ],
        "glibc acts on it (it is on glibc's list of variables unsafe for privileged programs: \
         GCONV_PATH loads code, GLIBC_TUNABLES changes the loader)",
    ),
    (
        &[
            "BASH_ENV",
            "ENV",
            "IFS",
            "CDPATH",
            "SHELLOPTS",
            "BASHOPTS",
            "PS4",
            "PROMPT_COMMAND",
        ],
        "a shell acts on it (BASH_ENV and ENV name a file every shell runs first)",
    ),
    (
        &["BROWSER", "PAGER", "MANPAGER"],
        "Python's standard library runs it as a command (webbrowser, pydoc)",
    ),
    (
        &[
            "PERLLIB",
            "RUBYOPT",
            "RUBYLIB",
            "NODE_OPTIONS",
            "OPENSSL_CONF",
            "OPENSSL_ENGINES",
            "OPENSSL_MODULES",
        ],
        "another interpreter or OpenSSL loads code named by it",
    ),
];

/// Checks one environment variable name: well formed (`[A-Za-z_][A-Za-z0-9_]*`) and not one the
/// loader, libc, a shell, an interpreter or the local workspace acts on (case does not matter).
pub fn check_variable_name(name: &str) -> Result<(), EnvironmentRule> {
    let mut chars = name.chars();
    let well_formed = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return Err(EnvironmentRule::Malformed);
    }
    let upper = name.to_ascii_uppercase();
    if let Some((_, why)) = RESERVED_PREFIXES
        .iter()
        .find(|(prefix, _)| upper.starts_with(prefix))
    {
        return Err(EnvironmentRule::Reserved { why });
    }
    if let Some((_, why)) = RESERVED_NAMES
        .iter()
        .find(|(names, _)| names.contains(&upper.as_str()))
    {
        return Err(EnvironmentRule::Reserved { why });
    }
    Ok(())
}

/// Checks one variable: its name, and a value a process environment can hold.
pub fn check_variable(name: &str, value: &str) -> Result<(), EnvironmentRule> {
    check_variable_name(name)?;
    if value.contains('\0') {
        return Err(EnvironmentRule::NulInValue);
    }
    Ok(())
}

/// Why a scoring script path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptPathRule {
    Empty,
    Absolute,
    ParentFolder,
    NulCharacter,
}

impl fmt::Display for ScriptPathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the scoring script is required",
            Self::Absolute => {
                "the scoring script must be a path relative to the code asset, not absolute"
            }
            Self::ParentFolder => "the scoring script must stay inside the code asset (no '..')",
            Self::NulCharacter => "the scoring script path may not contain a NUL character",
        })
    }
}

/// Checks a scoring script path as written: relative to its code asset, never leaving it
/// (no absolute path, no `..` part, with `/` or `\` as separator). Where it resolves to on disk
/// (a symbolic link may still point out) is the workspace's to check.
pub fn check_scoring_script(path: &str) -> Result<(), ScriptPathRule> {
    if path.trim().is_empty() {
        return Err(ScriptPathRule::Empty);
    }
    if path.contains('\0') {
        return Err(ScriptPathRule::NulCharacter);
    }
    let drive = path.as_bytes().get(1) == Some(&b':');
    if path.starts_with(['/', '\\']) || drive {
        return Err(ScriptPathRule::Absolute);
    }
    if path.split(['/', '\\']).any(|part| part == "..") {
        return Err(ScriptPathRule::ParentFolder);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved(name: &str) -> bool {
        matches!(
            check_variable_name(name),
            Err(EnvironmentRule::Reserved { .. })
        )
    }

    #[test]
    fn ordinary_names_are_accepted() {
        for name in [
            "MODEL_NAME",
            "_x",
            "a1",
            "WORKERS",
            "OMP_NUM_THREADS",
            "TMPDIR",
        ] {
            assert_eq!(check_variable_name(name), Ok(()), "{name}");
        }
        assert_eq!(check_variable("LOG_LEVEL", "debug"), Ok(()));
    }

    #[test]
    fn a_name_must_be_a_letter_or_underscore_then_letters_digits_or_underscores() {
        for name in ["", "1X", "A-B", "A B", "A=B", "É", "BASH_FUNC_f%%", "X\0"] {
            assert_eq!(
                check_variable_name(name),
                Err(EnvironmentRule::Malformed),
                "{name:?}"
            );
        }
    }

    #[test]
    fn interpreter_and_loader_variables_are_refused() {
        for name in [
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PYTHONWARNINGS",
            "PYTHONHOME",
            "PYTHONBREAKPOINT",
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "MALLOC_TRACE",
            "MALLOC_CHECK_",
            "PERL5LIB",
            "PERL5OPT",
            "OPENSSL_CONF",
            "NODE_OPTIONS",
        ] {
            assert!(reserved(name), "{name}");
        }
    }

    #[test]
    fn shell_variables_and_commands_the_standard_library_runs_are_refused() {
        for name in [
            "BROWSER",
            "PAGER",
            "BASH_ENV",
            "ENV",
            "IFS",
            "BASH_FUNC_x",
            "PS4",
        ] {
            assert!(reserved(name), "{name}");
        }
    }

    #[test]
    fn names_the_workspace_sets_are_refused() {
        for name in ["PATH", "HOME", "AZUREML_MODEL_DIR"] {
            assert!(reserved(name), "{name}");
        }
    }

    #[test]
    fn reserved_names_are_refused_whatever_their_case() {
        for name in ["pythonpath", "Ld_Preload", "browser", "Path"] {
            assert!(reserved(name), "{name}");
        }
    }

    #[test]
    fn a_refusal_says_why() {
        let refused = check_variable_name("PYTHONWARNINGS").expect_err("refused");
        assert!(
            refused.to_string().contains("Python interpreter"),
            "{refused}"
        );
        let refused = check_variable_name("BROWSER").expect_err("refused");
        assert!(refused.to_string().contains("webbrowser"), "{refused}");
    }

    #[test]
    fn a_value_with_a_nul_is_refused() {
        assert_eq!(
            check_variable("X", "a\0b"),
            Err(EnvironmentRule::NulInValue)
        );
    }

    #[test]
    fn a_scoring_script_is_a_relative_path_inside_the_code_asset() {
        for ok in ["score.py", "src/score.py", "./score.py", "a..b.py"] {
            assert_eq!(check_scoring_script(ok), Ok(()), "{ok}");
        }
        for (bad, rule) in [
            ("", ScriptPathRule::Empty),
            ("  ", ScriptPathRule::Empty),
            ("/tmp/x/evil.py", ScriptPathRule::Absolute),
            ("\\evil.py", ScriptPathRule::Absolute),
            ("C:evil.py", ScriptPathRule::Absolute),
            ("../evil.py", ScriptPathRule::ParentFolder),
            ("src/../../evil.py", ScriptPathRule::ParentFolder),
            ("src\\..\\..\\evil.py", ScriptPathRule::ParentFolder),
            ("score\0.py", ScriptPathRule::NulCharacter),
        ] {
            assert_eq!(check_scoring_script(bad), Err(rule), "{bad:?}");
        }
    }
}
