//! Data flows one way between the modules of every crate: a source scan
//! builds, for each workspace member, the graph of `crate::` paths between
//! the top-level modules under its `src/` and fails naming the crate and
//! the cycle.
//!
//! Test code is left out (`#[cfg(test)]` modules, inline or in their own
//! files): a test may reach anything. Doc comments are left out too. The
//! crate root (`lib.rs`, `main.rs`) is no module of the graph, but a
//! `crate::Name` it re-exports (`pub use module::Name;`) counts as a path
//! into the module that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `dir`, in order.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level module `file` belongs to (`api` for `src/api/care.rs`),
/// `None` for the crate root and the binary.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// `text` without doc and line comments and without test-only code: an
/// inline `#[cfg(test)] mod … { … }` up to its closing brace, and the files
/// of `#[cfg(test)] mod name;` (whatever its visibility), put in `tests`.
fn production_code(text: &str, dir: &Path, tests: &mut BTreeSet<PathBuf>) -> String {
    let mut kept = String::new();
    let mut lines = text.lines().peekable();
    let mut path_attr: Option<String> = None;
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.starts_with("//") {
            continue;
        }
        if line == "#[cfg(test)]" {
            // Skip further attributes, remembering a `#[path = "…"]`.
            while let Some(next) = lines.peek().map(|l| l.trim()) {
                if let Some(path) = next.strip_prefix("#[path = \"") {
                    path_attr = path.strip_suffix("\"]").map(str::to_owned);
                } else if !next.starts_with("#[") {
                    break;
                }
                lines.next();
            }
            let Some(item) = lines.next().map(str::trim) else {
                break;
            };
            let module = item
                .find("mod ")
                .filter(|at| item[..*at].trim().is_empty() || item.starts_with("pub"))
                .map(|at| &item[at + "mod ".len()..]);
            if let Some(name) = module.and_then(|m| m.strip_suffix(';')) {
                let file = path_attr.take().unwrap_or_else(|| format!("{name}.rs"));
                tests.insert(dir.join(file));
                continue;
            }
            // Any other test-only item: skip it up to its closing brace.
            let mut depth = braces(item);
            while depth > 0 {
                let Some(next) = lines.next() else { break };
                depth += braces(next);
            }
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// Opening minus closing braces on `line`.
fn braces(line: &str) -> i64 {
    line.chars()
        .map(|c| match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        })
        .sum()
}

/// The names that follow `crate::` in `code`, including the first name of
/// each part of a `crate::{a, b::{c, d}}` group (`a` and `b`).
fn crate_paths(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group at its own commas, not those of nested groups.
            let (mut depth, mut start) = (0i64, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.insert(ident(group[start..i].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(ident(group[start..i].trim()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.insert(ident(rest));
        }
    }
    names.remove("");
    names
}

/// The names the crate root re-exports from its modules (`pub use
/// module::Name;`, `pub(crate) use module::{A, B as C};`), each with the
/// module it comes from.
fn root_reexports(root: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for (at, _) in root.match_indices("use ") {
        let line_start = root[..at].rfind('\n').map_or(0, |i| i + 1);
        let head = root[line_start..at].trim();
        if head != "pub" && !head.starts_with("pub(") {
            continue;
        }
        let statement = &root[at + "use ".len()..];
        let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
        let Some((module, rest)) = statement.split_once("::") else {
            continue;
        };
        for part in rest
            .trim()
            .trim_matches(|c| c == '{' || c == '}')
            .split(',')
        {
            // `b::C as D` is `D`; `b::C` is `C`.
            let name = part.rsplit(" as ").next().unwrap_or(part).trim();
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            let name: String = name
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name, module.trim().to_owned());
            }
        }
    }
    names
}

/// The module graph of the crate under `src`.
fn module_graph(src: &Path) -> Graph {
    let files = sources(src);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(src, f)).collect();
    let reexports: BTreeMap<String, String> = ["lib.rs", "main.rs"]
        .iter()
        .filter_map(|root| std::fs::read_to_string(src.join(root)).ok())
        .flat_map(|text| root_reexports(&text))
        .collect();
    let mut tests = BTreeSet::new();
    let mut code = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        // A file's `mod x;` children live beside it (`a.rs` → `a/x.rs`).
        let dir = match file.file_stem().and_then(|s| s.to_str()) {
            Some("lib" | "main" | "mod") => file.parent().expect("parent").to_path_buf(),
            Some(stem) => file.with_file_name(stem),
            None => continue,
        };
        code.insert(file.clone(), production_code(&text, &dir, &mut tests));
    }
    let mut graph = Graph::new();
    for (file, code) in code {
        if tests.contains(&file) || file.file_name().is_some_and(|n| n == "main.rs") {
            continue;
        }
        let Some(from) = top_module(src, &file) else {
            continue;
        };
        let edges = graph.entry(from.clone()).or_default();
        for path in crate_paths(&code) {
            let to = reexports.get(&path).cloned().unwrap_or(path);
            if to != from && modules.contains(&to) {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the modules along it (first repeated at the end).
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_another_in_a_circle() {
    let root = super::root();
    let graphs: BTreeMap<String, Graph> = super::members()
        .into_iter()
        .map(|(name, member)| (name, module_graph(&root.join(&member.path).join("src"))))
        .collect();
    let graph = &graphs["consent-service"];
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        graph.len() > 15 && edges > 20,
        "scan found too little: {graph:?}"
    );
    assert!(graph["api"].contains("writes"), "{graph:?}");
    assert!(
        graphs["icr-log"]["audit"].contains("chain"),
        "the scan reads every member: {graphs:?}"
    );
    for (name, graph) in &graphs {
        if let Some(cycle) = find_cycle(graph) {
            panic!(
                "modules of {name} import each other in a circle: {}; move what they share \
                 below both",
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn a_circle_is_found_and_named() {
    let graph: Graph = [("api", "writes"), ("writes", "view"), ("view", "api")]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), BTreeSet::from([b.to_owned()])))
        .collect();
    let cycle = find_cycle(&graph).expect("a cycle");
    assert_eq!(cycle, ["api", "writes", "view", "api"]);
    let mut acyclic = graph;
    acyclic.remove("view");
    assert_eq!(find_cycle(&acyclic), None);
}

#[test]
fn paths_are_read_from_uses_groups_and_expressions_but_not_tests() {
    let code = "use crate::status::ServiceError;\n\
                use crate::{access, api::{Api, Handle}, gate};\n\
                /// [`crate::docs`]\n\
                fn f() { crate::validate::id(\"x\", y); }\n\
                #[cfg(test)]\n\
                mod tests {\n\
                use crate::view::View;\n\
                fn g() { if true { crate::router::f(); } }\n\
                }\n\
                fn h() { crate::overload::admit(); }\n\
                #[cfg(test)]\n\
                pub(crate) mod props;\n";
    let mut tests = BTreeSet::new();
    let kept = production_code(code, Path::new("src"), &mut tests);
    assert_eq!(tests, BTreeSet::from([PathBuf::from("src/props.rs")]));
    let names: Vec<_> = crate_paths(&kept).into_iter().collect();
    assert_eq!(
        names,
        ["access", "api", "gate", "overload", "status", "validate"]
    );
}

#[test]
fn a_name_the_crate_root_reexports_leads_to_its_module() {
    let root = "//! Docs that use words.\nmod audit;\npub use audit::DecisionAudit;\n\
                #[cfg(unix)]\npub use opening::{\n    Damage,\n    Lost as Gone,\n};\n\
                pub use tip::track::Track;\nuse private::Hidden;\npub use sled;\n";
    let names = root_reexports(root);
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .map(|(n, m)| (n.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("Damage", "opening"),
            ("DecisionAudit", "audit"),
            ("Gone", "opening"),
            ("Track", "tip"),
        ]
    );
}
