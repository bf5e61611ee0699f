//! The import rule of `docs/architecture.md`: modules are declared in `src/lib.rs` bottom-up,
//! along the data's path, and a module may use only modules declared above it; the bottom layer
//! (`base`) uses nothing else of ours. Checked over the `crate::` paths of every source file
//! (comments left out), so an upward import fails here with the file, the line and the fix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules in the order `lib.rs` declares them (`pub mod x;`).
fn layers() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/train/epoch.rs` → `train`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The names at depth 1 of a `{...}` use group (each at the start of an item), reading `text`
/// from inside a group `depth` levels deep; `depth` is 0 when the group closes in `text`.
fn group_names(text: &str, depth: &mut usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut at_item = *depth == 1;
    for (i, c) in text.char_indices() {
        match c {
            '{' => {
                *depth += 1;
                at_item = *depth == 1;
            }
            '}' => {
                *depth = depth.saturating_sub(1);
                if *depth == 0 {
                    break;
                }
            }
            ',' => at_item = *depth == 1,
            c if c.is_whitespace() => {}
            _ => {
                if at_item {
                    let name = ident(&text[i..]);
                    if !name.is_empty() && name != "self" {
                        out.push(name);
                    }
                }
                at_item = false;
            }
        }
    }
    out
}

/// The modules of ours a line of code names: `crate::x` anywhere (`$crate::x` in macros too),
/// and each top-level name in a `use crate::{x, y::z}` group, which may span lines: `open`
/// carries an unclosed group's depth to the next line.
fn named(line: &str, open: &mut Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(depth) = open.as_mut() {
        out.extend(group_names(line, depth));
        if *depth == 0 {
            *open = None;
        }
    }
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 1;
            out.extend(group_names(group, &mut depth));
            if depth > 0 {
                *open = Some(depth);
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                out.push(name);
            }
        }
        rest = after;
    }
    out
}

#[test]
fn imports_point_down_the_data_path() {
    let layers = layers();
    assert!(
        layers.len() > 10 && layers[0] == "base",
        "lib.rs should declare the modules bottom-up, base first: {layers:?}"
    );
    let rank = |m: &str| layers.iter().position(|l| l == m);
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(file);
        let Some(own) = rank(&module) else {
            continue; // lib.rs, main.rs
        };
        let text = std::fs::read_to_string(file).unwrap();
        let mut open = None;
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for name in named(code, &mut open) {
                match rank(&name) {
                    Some(r) if r > own => wrong.push(format!(
                        "{}:{}: `{module}` uses `{name}`, which lib.rs declares above it \
                         (move the shared part down, or pass it in)",
                        file.strip_prefix(src()).unwrap().display(),
                        n + 1
                    )),
                    _ => {}
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up the data's path:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_import_scan_sees_groups_paths_and_macros() {
    let mut open = None;
    let names: BTreeSet<String> = [
        "use crate::{audio::Loader, cache::{self, CacheOptions},",
        "    rundir::RunDir};",
        "let x = crate::train::train(a); $crate::plot::write_with(p);",
    ]
    .iter()
    .flat_map(|l| named(l, &mut open))
    .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["audio", "cache", "plot", "rundir", "train"]
    );
    assert_eq!(open, None);
}

#[test]
fn the_architecture_page_lists_the_layers_in_order() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    // The rows of its layer table: "| N | `module` | ...".
    let listed: Vec<String> = page
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() > 3 && cells[1].parse::<usize>().is_ok())
                .then(|| cells[2].trim_matches('`').to_string())
        })
        .collect();
    assert_eq!(
        listed,
        layers(),
        "docs/architecture.md's layer table and lib.rs disagree"
    );
}
