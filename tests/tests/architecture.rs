//! ARCHITECTURE.md's crate table against the workspace: every member of
//! the root `Cargo.toml` has a row with its path, a concern and a "must
//! not"; its "depends on" column is the workspace crates in the member's
//! `[dependencies]`; and rows run lowest first, each depending only on rows
//! above it. The operators' CLI does not link the server, directly or
//! through anything it depends on. No crate's modules import each other in
//! a circle (`module_graph`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[path = "architecture/module_graph.rs"]
mod module_graph;

/// The workspace root: the parent of this crate.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace root")
        .to_path_buf()
}

fn manifest(dir: &Path) -> toml::Table {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("read a Cargo.toml");
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A member as its `Cargo.toml` has it: path and the names in its
/// `[dependencies]`.
struct Member {
    path: String,
    dependencies: BTreeSet<String>,
}

/// Every workspace member by package name.
fn members() -> BTreeMap<String, Member> {
    let root = root();
    let workspace = manifest(&root);
    let paths = workspace["workspace"]["members"]
        .as_array()
        .expect("workspace.members");
    paths
        .iter()
        .map(|path| {
            let path = path.as_str().expect("a member path").to_owned();
            let own = manifest(&root.join(&path));
            let name = own["package"]["name"].as_str().expect("package.name");
            let dependencies = own
                .get("dependencies")
                .and_then(toml::Value::as_table)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            (name.to_owned(), Member { path, dependencies })
        })
        .collect()
}

/// A row of the crate table.
#[derive(Debug)]
struct Row {
    name: String,
    path: String,
    concern: String,
    depends_on: BTreeSet<String>,
    must_not: String,
}

/// The rows of the table under `## Crates`, in order.
fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = text
        .split("\n## Crates\n")
        .nth(1)
        .expect("a `## Crates` section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let unquote = |cell: &str| cell.trim().trim_matches('`').to_owned();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            assert_eq!(
                cells.len(),
                5,
                "crate, path, concern, depends on, must not: {line}"
            );
            let depends_on = match cells[3].trim() {
                "—" => BTreeSet::new(),
                listed => listed.split(", ").map(unquote).collect(),
            };
            Row {
                name: unquote(cells[0]),
                path: unquote(cells[1]),
                concern: cells[2].trim().to_owned(),
                depends_on,
                must_not: cells[4].trim().to_owned(),
            }
        })
        .collect()
}

#[test]
fn the_crate_table_lists_every_workspace_member_as_its_cargo_toml_has_it() {
    let members = members();
    let rows = rows();
    let listed: BTreeSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let missing: Vec<&str> = members
        .keys()
        .map(String::as_str)
        .filter(|name| !listed.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's crate table has no row for {missing:?}: add one with its concern, \
         what it depends on and what it must not do"
    );
    assert_eq!(listed.len(), rows.len(), "a crate listed twice: {rows:?}");
    let mut above = BTreeSet::new();
    for row in &rows {
        let member = members.get(&row.name).unwrap_or_else(|| {
            panic!(
                "ARCHITECTURE.md lists `{}`, which is not a workspace member",
                row.name
            )
        });
        assert_eq!(row.path, member.path, "the path of `{}`", row.name);
        assert!(!row.concern.is_empty(), "`{}` has no concern", row.name);
        assert!(
            !row.must_not.is_empty(),
            "`{}` has no \"must not\"",
            row.name
        );
        let workspace_dependencies: BTreeSet<String> = member
            .dependencies
            .iter()
            .filter(|d| members.contains_key(*d))
            .cloned()
            .collect();
        assert_eq!(
            row.depends_on, workspace_dependencies,
            "ARCHITECTURE.md's \"depends on\" for `{}` differs from the workspace crates in its \
             Cargo.toml [dependencies]",
            row.name
        );
        let below: Vec<_> = row.depends_on.difference(&above).collect();
        assert!(
            below.is_empty(),
            "`{}` is listed above {below:?}, which it depends on: the table runs lowest first",
            row.name
        );
        above.insert(row.name.clone());
    }
}

/// Every package `package` links: its normal dependencies and theirs, as
/// `cargo tree -e normal` shows them (dev- and build-dependencies left out).
fn linked(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .current_dir(root())
        .args(["metadata", "--format-version", "1"])
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes: BTreeMap<&str, &serde_json::Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes")
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let start = names
        .iter()
        .find(|(_, name)| **name == package)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no package {package}"));
    let mut seen = BTreeSet::new();
    let mut to_visit = vec![start];
    while let Some(id) = to_visit.pop() {
        if !seen.insert(id) {
            continue;
        }
        let deps = nodes[id]["deps"].as_array().expect("deps");
        for dep in deps {
            let normal = dep["dep_kinds"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()));
            if normal {
                to_visit.push(dep["pkg"].as_str().expect("pkg"));
            }
        }
    }
    seen.remove(start);
    seen.iter().map(|id| names[id].to_owned()).collect()
}

#[test]
fn the_cli_links_neither_the_service_nor_its_telemetry_sdk() {
    let linked = linked("consent-cli");
    assert!(
        linked.contains("icr-proto"),
        "the walk found the CLI's own dependencies: {linked:?}"
    );
    let server_only = [
        "consent-service",
        "opentelemetry_sdk",
        "governor",
        "x509-parser",
    ];
    let found: Vec<&str> = server_only
        .into_iter()
        .filter(|name| linked.contains(*name))
        .collect();
    assert!(
        found.is_empty(),
        "consent-cli links {found:?} through its [dependencies] (`cargo tree -p consent-cli -e \
         normal -i <crate>` shows the path): the CLI talks to the service over gRPC and must not \
         link it; move what it needs below the service"
    );
}

#[test]
fn the_libraries_the_cli_and_the_benchmarks_use_do_not_link_the_service() {
    for package in ["icr-packs", "icr-scenarios", "icr-datagen"] {
        let linked = linked(package);
        assert!(
            !linked.contains("consent-service"),
            "{package} links consent-service through its [dependencies]: it must stay below the \
             service, which depends on it"
        );
    }
}
