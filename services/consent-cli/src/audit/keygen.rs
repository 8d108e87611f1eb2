//! `audit keygen`: the ed25519 key pair that signs checkpoints. The private
//! key stays with the service (`--signing-key`); the public key goes to
//! whoever verifies the log (`consent-cli verify --public-key`).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use icr_log::ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use icr_log::ed25519_dalek::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use icr_log::ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::json;

use crate::output::{self, Output};

/// Arguments of `audit keygen`.
#[derive(Args, Debug, Clone)]
pub(crate) struct KeygenArgs {
    /// Where to write the keys: PREFIX.key.pem (private, PKCS#8, readable by
    /// its owner only) and PREFIX.pub.pem (public, SPKI). By default
    /// `audit` in $XDG_CONFIG_HOME/icr-consent (or ~/.config/icr-consent),
    /// a directory only its owner can enter. Existing files are never
    /// overwritten.
    #[arg(long = "out", value_name = "PREFIX")]
    pub(crate) prefix: Option<PathBuf>,
    /// Write the keys even though PREFIX is inside a git work tree, where
    /// one `git add` could commit the private key. Only for a tree nobody
    /// commits from.
    #[arg(long)]
    pub(crate) inside_git_work_tree: bool,
}

/// Fields of the result.
const KEYGEN_FIELDS: &[&str] = &["private_key", "public_key", "fingerprint", "public_key_hex"];

/// The directory under the user's configuration directory that holds the
/// keys by default.
const KEY_DIR: &str = "icr-consent";

/// Makes the key pair, writes both files and prints where they are.
pub(crate) fn run(args: &KeygenArgs, output: Output) -> Result<()> {
    let prefix = match &args.prefix {
        Some(prefix) => prefix.clone(),
        None => default_dir()?.join("audit"),
    };
    let private_path = with_suffix(&prefix, ".key.pem");
    let public_path = with_suffix(&prefix, ".pub.pem");
    if !args.inside_git_work_tree {
        refuse_inside_work_tree(&private_path, args.prefix.is_none())?;
    }
    // Check both before writing either, so a refusal leaves nothing behind.
    for path in [&private_path, &public_path] {
        if path.exists() {
            bail!(
                "{} already exists; keygen never overwrites a key: choose another --out",
                path.display()
            );
        }
    }
    if args.prefix.is_none() {
        create_private_dir(private_path.parent().unwrap_or(Path::new(".")))?;
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .context("encoding the private key")?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .context("encoding the public key")?;
    write_new(&private_path, private_pem.as_bytes(), true)?;
    write_new(&public_path, public_pem.as_bytes(), false)?;
    let public = key.verifying_key();
    let record = json!({
        "private_key": private_path.display().to_string(),
        "public_key": public_path.display().to_string(),
        "fingerprint": icr_log::key_fingerprint(public.as_bytes()),
        "public_key_hex": output::hex(public.as_bytes()),
    });
    output.record(KEYGEN_FIELDS, &record)?;
    if !output.is_json() {
        eprintln!(
            "start the service with --signing-key {}; give {} to whoever verifies the log",
            private_path.display(),
            public_path.display()
        );
    }
    Ok(())
}

/// Where keys go when no --out is given: `icr-consent` in
/// `$XDG_CONFIG_HOME`, or else in `~/.config`; never the current directory,
/// which may be a source tree.
fn default_dir() -> Result<PathBuf> {
    let set = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let config = set("XDG_CONFIG_HOME").or_else(|| set("HOME").map(|home| home.join(".config")));
    match config {
        Some(config) => Ok(config.join(KEY_DIR)),
        None => bail!(
            "neither XDG_CONFIG_HOME nor HOME is set to an absolute path, so there is no \
             configuration directory to keep the keys in: give --out PREFIX, outside any git \
             work tree"
        ),
    }
}

/// Creates `dir` (and its parents) enterable by its owner only, if it is
/// not there yet.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Refuses to write the private key `path` inside a git work tree: the
/// nearest existing directory above it, or any of its parents, holds `.git`.
/// `defaulted` when `path` is in the default directory (no --out given).
fn refuse_inside_work_tree(path: &Path, defaulted: bool) -> Result<()> {
    let absolute =
        std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let Some(existing) = absolute.ancestors().skip(1).find(|dir| dir.is_dir()) else {
        return Ok(());
    };
    let resolved = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    let Some(tree) = resolved.ancestors().find(|dir| dir.join(".git").exists()) else {
        return Ok(());
    };
    let instead = if defaulted {
        "Your configuration directory is inside it: give an --out outside the tree"
    } else {
        "Leave out --out to keep the keys in your configuration directory \
         ($XDG_CONFIG_HOME/icr-consent or ~/.config/icr-consent), give an --out outside the tree"
    };
    bail!(
        "refusing to write the private key {} inside the git work tree {}: one `git add` could \
         commit it. {instead}, or pass --inside-git-work-tree if nobody commits from this tree",
        path.display(),
        tree.display()
    )
}

/// Reads a public key written by `audit keygen` (or any ed25519 SPKI PEM,
/// e.g. `openssl pkey -pubout`).
pub(crate) fn read_public_key(path: &Path) -> Result<VerifyingKey> {
    let pem = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the public key {}; give the PREFIX.pub.pem that \
             `consent-cli audit keygen` wrote",
            path.display()
        )
    })?;
    if pem.contains("PRIVATE KEY") {
        bail!(
            "{} is a private key; give the public key (PREFIX.pub.pem) instead, and keep the \
             private key with the service only",
            path.display()
        );
    }
    VerifyingKey::from_public_key_pem(&pem).map_err(|error| {
        anyhow::anyhow!(
            "{} is not an ed25519 public key in SPKI PEM form ({error}); give the \
             PREFIX.pub.pem that `consent-cli audit keygen` wrote",
            path.display()
        )
    })
}

/// `prefix` with `suffix` appended to its file name.
fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut path = prefix.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// Writes a file that must not exist yet; a `private` one is created
/// readable and writable by its owner only (on Unix), before any byte of
/// the key is in it.
fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_log::ed25519_dalek::pkcs8::DecodePrivateKey;

    #[test]
    fn a_pair_is_written_once_and_the_public_half_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let prefix = dir.path().join("audit");
        let args = KeygenArgs {
            prefix: Some(prefix.clone()),
            inside_git_work_tree: false,
        };
        run(&args, Output::new(true)).expect("keygen");
        let public = read_public_key(&with_suffix(&prefix, ".pub.pem")).expect("public key");
        let private = std::fs::read_to_string(with_suffix(&prefix, ".key.pem")).expect("read");
        let signing = SigningKey::from_pkcs8_pem(&private).expect("PKCS#8");
        assert_eq!(signing.verifying_key(), public);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(with_suffix(&prefix, ".key.pem"))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(run(&args, Output::new(true)).is_err(), "overwrote a key");
        let wrong = read_public_key(&with_suffix(&prefix, ".key.pem")).expect_err("private");
        assert!(wrong.to_string().contains("is a private key"), "{wrong}");
    }
}
