//! `consent-cli audit keygen` keeps the private key out of source trees:
//! by default it writes to the user's configuration directory, and it
//! refuses an `--out` inside a git work tree unless told otherwise. Run as
//! the real binary in a temporary git repository with a temporary home.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{failed, stderr, succeeded};

/// A temporary home directory and, inside the temporary directory beside
/// it, a git repository to run the CLI in.
struct Places {
    root: tempfile::TempDir,
}

impl Places {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("home")).expect("home");
        let repo = root.path().join("repo");
        std::fs::create_dir(&repo).expect("repo");
        let init = Command::new("git")
            .args(["init", "--quiet"])
            .current_dir(&repo)
            .output()
            .expect("run git init");
        assert!(init.status.success(), "git init: {}", stderr(&init));
        Self { root }
    }

    fn home(&self) -> std::path::PathBuf {
        self.root.path().join("home")
    }

    fn repo(&self) -> std::path::PathBuf {
        self.root.path().join("repo")
    }

    /// Runs the CLI in the repository with the temporary home and no
    /// XDG_CONFIG_HOME unless `xdg` gives one.
    fn keygen(&self, args: &[&str], xdg: Option<&Path>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_consent-cli"));
        command
            .args(["audit", "keygen"])
            .args(args)
            .current_dir(self.repo())
            .env("HOME", self.home())
            .env_remove("XDG_CONFIG_HOME");
        if let Some(xdg) = xdg {
            command.env("XDG_CONFIG_HOME", xdg);
        }
        command.output().expect("run consent-cli")
    }

    /// What `git status` says is new in the repository.
    fn untracked(&self) -> String {
        let status = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=all"])
            .current_dir(self.repo())
            .output()
            .expect("run git status");
        succeeded(&status)
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn without_out_the_keys_go_to_the_configuration_directory_not_the_tree() {
    let places = Places::new();
    let made = places.keygen(&[], None);
    let printed = succeeded(&made);
    let dir = places.home().join(".config/icr-consent");
    let (private, public) = (dir.join("audit.key.pem"), dir.join("audit.pub.pem"));
    assert!(private.is_file() && public.is_file(), "{printed}");
    assert_eq!(
        stderr(&made),
        format!(
            "start the service with --signing-key {}; give {} to whoever verifies the log\n",
            private.display(),
            public.display()
        )
    );
    let fingerprint = printed
        .lines()
        .find_map(|line| line.strip_prefix("fingerprint"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no fingerprint in:\n{printed}"));
    assert!(
        fingerprint.starts_with("SHA256:") && fingerprint.len() == 7 + 64,
        "{fingerprint}"
    );
    assert_eq!(places.untracked(), "", "nothing new in the repository");
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&private), 0o600);
    }
    // A second run never overwrites the pair.
    let again = places.keygen(&[], None);
    assert_eq!(
        failed(&again),
        format!(
            "error: {} already exists; keygen never overwrites a key: choose another --out\n",
            private.display()
        )
    );
}

#[test]
fn xdg_config_home_is_the_configuration_directory_when_set() {
    let places = Places::new();
    let config = places.root.path().join("config");
    succeeded(&places.keygen(&["--json"], Some(&config)));
    assert!(config.join("icr-consent/audit.key.pem").is_file());
    assert!(!places.home().join(".config").exists());
}

#[test]
fn out_inside_a_git_work_tree_is_refused_unless_asked_for() {
    let places = Places::new();
    let refused = places.keygen(&["--out", "audit"], None);
    let repo = places.repo().canonicalize().expect("canonical");
    assert_eq!(
        failed(&refused),
        format!(
            "error: refusing to write the private key audit.key.pem inside the git work tree \
             {}: one `git add` could commit it. Leave out --out to keep the keys in your \
             configuration directory ($XDG_CONFIG_HOME/icr-consent or ~/.config/icr-consent), \
             give an --out outside the tree, or pass --inside-git-work-tree if nobody commits \
             from this tree\n",
            repo.display()
        )
    );
    assert_eq!(places.untracked(), "", "nothing written");
    // Deeper in the tree, in a directory that does not exist yet, too.
    let deeper = places.keygen(&["--out", "keys/new/audit"], None);
    assert!(failed(&deeper).contains("inside the git work tree"));

    // Asked for, it writes there; the project's .gitignore then keeps the
    // private key out of `git add .`, and only the public key shows.
    let ignore = include_str!("../../../.gitignore");
    std::fs::write(places.repo().join(".gitignore"), ignore).expect("write .gitignore");
    succeeded(&places.keygen(&["--out", "audit", "--inside-git-work-tree"], None));
    assert!(places.repo().join("audit.key.pem").is_file());
    assert_eq!(places.untracked(), "?? .gitignore\n?? audit.pub.pem\n");
}

#[test]
fn the_image_build_context_leaves_keys_out() {
    let ignored: Vec<&str> = include_str!("../../../.dockerignore").lines().collect();
    for pattern in ["**/*.pem", "**/*.key", ".git"] {
        assert!(ignored.contains(&pattern), "{pattern} not in .dockerignore");
    }
}
