//! The library's modules import one another in one direction only, as
//! ARCHITECTURE.md draws them: read from the source, so that a `use` that
//! closes a circle fails here, with the circle named.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Top-level module → the top-level modules its code (not its tests) names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).expect("under src");
        let module = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|name| name.trim_end_matches(".rs").to_owned())
            .expect("a module name");
        if module == "lib" || module == "main" {
            continue;
        }
        let text = fs::read_to_string(&file).expect("readable source");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let uses = graph.entry(module.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    uses.insert(name);
                }
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// A circle through `from`, if its imports lead back to it.
fn circle(graph: &Graph, from: &str) -> Option<Vec<String>> {
    fn walk(graph: &Graph, at: &str, from: &str, path: &mut Vec<String>) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == from {
                return true;
            }
            if path.contains(next) {
                continue;
            }
            path.push(next.clone());
            if walk(graph, next, from, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![from.to_owned()];
    walk(graph, from, from, &mut path).then(|| {
        path.push(from.to_owned());
        path
    })
}

#[test]
fn no_module_imports_its_way_back_to_itself() {
    let graph = graph();
    assert!(graph.len() > 10, "found the modules: {graph:?}");
    for module in graph.keys() {
        if let Some(circle) = circle(&graph, module) {
            panic!("import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_bottom_layers_stand_alone() {
    let graph = graph();
    let uses = |module: &str| -> Vec<&str> {
        graph
            .get(module)
            .unwrap_or_else(|| panic!("no module {module}"))
            .iter()
            .map(String::as_str)
            .collect()
    };
    assert_eq!(
        uses("config"),
        Vec::<&str>::new(),
        "config reads feeds.toml alone"
    );
    assert_eq!(
        uses("text"),
        Vec::<&str>::new(),
        "text cleans strings alone"
    );
    assert_eq!(
        uses("urls"),
        ["config"],
        "the URL scheme needs only the configuration"
    );
    assert_eq!(
        uses("outbound"),
        ["config"],
        "the guarded outgoing client knows no feature that calls out (hub, fediverse)"
    );
}
