//! Where the API key and base URL come from: `--sandbox`, `--api-key-file`,
//! `TOPCALLS_API_KEY`, or a profile of the config file, first found wins.
//! Files holding a key must not be readable by group or others.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::exit::Failure;

/// The environment variable holding the key.
pub(crate) const API_KEY_ENV: &str = topcalls_api::API_KEY_ENV;

/// The config file: `[profiles.NAME]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    api_key: String,
    base_url: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("api_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Credentials, resolved. `Debug` never shows the key.
pub(crate) struct Credentials {
    pub(crate) api_key: String,
    pub(crate) base_url: Option<String>,
    /// Where the key came from, to say in logs and errors (never the key).
    pub(crate) source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .field("source", &self.source)
            .finish()
    }
}

/// What credentials can be looked up from (the process's environment in
/// `main`, something else in tests).
pub(crate) struct Sources<'a> {
    pub(crate) api_key_file: Option<&'a Path>,
    pub(crate) profile: Option<&'a str>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) env_key: Option<String>,
}

/// The default config file: `topcalls/config.toml` under the user's config directory.
pub(crate) fn default_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("topcalls").join("config.toml"))
}

/// Resolves the key: `--api-key-file`, then a profile named with
/// `--profile` / `TOPCALLS_PROFILE`, then `TOPCALLS_API_KEY`, then the
/// profile `default`.
pub(crate) fn resolve(sources: &Sources<'_>) -> Result<Credentials, Failure> {
    if let Some(path) = sources.api_key_file {
        let text = read_private(path, "key file")?;
        let key = text.trim();
        if key.is_empty() {
            return Err(Failure::config(format!(
                "the key file {} is empty",
                path.display()
            )));
        }
        return Ok(Credentials {
            api_key: key.to_string(),
            base_url: None,
            source: format!("--api-key-file {}", path.display()),
        });
    }
    if sources.profile.is_none()
        && let Some(key) = sources.env_key.as_deref().map(str::trim)
        && !key.is_empty()
    {
        return Ok(Credentials {
            api_key: key.to_string(),
            base_url: None,
            source: API_KEY_ENV.to_string(),
        });
    }
    let name = sources.profile.unwrap_or("default");
    let Some(path) = sources.config.as_deref() else {
        return Err(missing(name, None));
    };
    if !path.exists() {
        return Err(missing(name, Some(path)));
    }
    let text = read_private(path, "config file")?;
    let config: ConfigFile = toml::from_str(&text).map_err(|error| {
        Failure::config(format!(
            "cannot read the config file {}: {}",
            path.display(),
            error.message()
        ))
    })?;
    let Some(profile) = config.profiles.get(name) else {
        let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
        return Err(Failure::config(format!(
            "no profile `{name}` in {} (profiles: {})",
            path.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    if profile.api_key.trim().is_empty() {
        return Err(Failure::config(format!(
            "profile `{name}` in {} has an empty api_key",
            path.display()
        )));
    }
    Ok(Credentials {
        api_key: profile.api_key.trim().to_string(),
        base_url: profile.base_url.clone(),
        source: format!("profile `{name}` of {}", path.display()),
    })
}

fn missing(profile: &str, config: Option<&Path>) -> Failure {
    let file = config.map_or_else(
        || "the config file".to_string(),
        |path| path.display().to_string(),
    );
    Failure::config(format!(
        "no API key: set {API_KEY_ENV}, pass --api-key-file, add [profiles.{profile}] with api_key to {file}, \
         or try --sandbox (no account needed)"
    ))
}

/// Reads a file that holds a key, refusing one that group or others can read.
fn read_private(path: &Path, what: &str) -> Result<String, Failure> {
    check_mode(path, what)?;
    std::fs::read_to_string(path).map_err(|error| {
        Failure::config(format!(
            "cannot read the {what} {}: {error}",
            path.display()
        ))
    })
}

#[cfg(unix)]
fn check_mode(path: &Path, what: &str) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path).map_err(|error| {
        Failure::config(format!(
            "cannot read the {what} {}: {error}",
            path.display()
        ))
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Failure::config(format!(
            "the {what} {} holds an API key but is readable by {} (mode {mode:03o}); \
             run `chmod 600 {}` and try again",
            path.display(),
            if mode & 0o007 != 0 {
                "everyone"
            } else {
                "its group"
            },
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _what: &str) -> Result<(), Failure> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let _ = mode;
        path
    }

    fn sources<'a>(
        file: Option<&'a Path>,
        profile: Option<&'a str>,
        config: Option<PathBuf>,
        env: Option<&str>,
    ) -> Sources<'a> {
        Sources {
            api_key_file: file,
            profile,
            config,
            env_key: env.map(str::to_string),
        }
    }

    #[test]
    fn the_first_source_found_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = write(dir.path(), "key", "tc_test_from_file\n", 0o600);
        let config = write(
            dir.path(),
            "config.toml",
            "[profiles.default]\napi_key = \"tc_test_default\"\n\
             [profiles.work]\napi_key = \"tc_test_work\"\nbase_url = \"http://127.0.0.1:9\"\n",
            0o600,
        );
        let got = |s: Sources<'_>| resolve(&s).map(|c| (c.api_key, c.base_url));
        assert_eq!(
            got(sources(
                Some(&key),
                None,
                Some(config.clone()),
                Some("tc_env")
            ))
            .expect("file")
            .0,
            "tc_test_from_file"
        );
        assert_eq!(
            got(sources(None, None, Some(config.clone()), Some("tc_env")))
                .expect("env")
                .0,
            "tc_env"
        );
        assert_eq!(
            got(sources(None, None, Some(config.clone()), None))
                .expect("default profile")
                .0,
            "tc_test_default"
        );
        assert_eq!(
            got(sources(
                None,
                Some("work"),
                Some(config.clone()),
                Some("tc_env")
            ))
            .expect("work"),
            (
                "tc_test_work".to_string(),
                Some("http://127.0.0.1:9".to_string())
            )
        );
        let unknown =
            resolve(&sources(None, Some("home"), Some(config), None)).expect_err("no such profile");
        assert_eq!(unknown.code, 3);
        assert!(
            unknown.message.contains("profiles: default, work"),
            "{}",
            unknown.message
        );
    }

    #[cfg(unix)]
    #[test]
    fn files_others_can_read_are_refused_without_showing_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (mode, who) in [(0o644, "everyone"), (0o640, "its group")] {
            let key = write(dir.path(), "key", "tc_test_secret_in_file", mode);
            let failure = resolve(&sources(Some(&key), None, None, None)).expect_err("refused");
            assert_eq!(failure.code, 3);
            assert!(failure.message.contains(who), "{}", failure.message);
            assert!(failure.message.contains("chmod 600"), "{}", failure.message);
            assert!(!failure.message.contains("tc_test_secret_in_file"));
            let config = write(
                dir.path(),
                "config.toml",
                "[profiles.default]\napi_key = \"tc_test_secret_in_config\"\n",
                mode,
            );
            let failure = resolve(&sources(None, None, Some(config), None)).expect_err("refused");
            assert!(
                failure.message.contains("config file"),
                "{}",
                failure.message
            );
            assert!(!failure.message.contains("tc_test_secret_in_config"));
        }
    }

    #[test]
    fn nothing_configured_says_every_way_to_configure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let failure = resolve(&sources(
            None,
            None,
            Some(dir.path().join("none.toml")),
            None,
        ))
        .expect_err("missing");
        assert_eq!(failure.code, 3);
        for hint in [
            "TOPCALLS_API_KEY",
            "--api-key-file",
            "[profiles.default]",
            "--sandbox",
        ] {
            assert!(
                failure.message.contains(hint),
                "{hint}: {}",
                failure.message
            );
        }
    }

    #[test]
    fn a_malformed_config_file_says_so_without_its_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write(
            dir.path(),
            "config.toml",
            "[profiles.default]\napi_key = \"tc_test_secret\"\nkey = 1\n",
            0o600,
        );
        let failure = resolve(&sources(None, None, Some(config), None)).expect_err("malformed");
        assert_eq!(failure.code, 3);
        assert!(
            !failure.message.contains("tc_test_secret"),
            "{}",
            failure.message
        );
    }
}
