//! `docs/reliability.md` kept true: every test it names exists, and every case count it marks
//! with † is the constant the test runs with.

use std::fs;
use std::path::Path;

/// The counts marked † on the page, by test: what the tests really run.
fn counts() -> Vec<(&'static str, usize)> {
    vec![
        (
            "faults::sigkill_at_random_moments_then_a_rerun_equals_an_unbroken_sweep",
            crate::faults::KILLS,
        ),
        ("fuzz::header_fields_at_extremes", crate::fuzz::HEADER_CASES),
        (
            "fuzz::truncations_at_many_offsets",
            crate::fuzz::TRUNCATION_CASES,
        ),
        (
            "fuzz::random_mutations_of_the_seed_corpus",
            crate::fuzz::RANDOM_CASES,
        ),
        (
            "fuzz::prop_any_bytes_after_a_magic",
            crate::fuzz::PROPTEST_CASES as usize,
        ),
    ]
}

/// Whether the test `name` (`module::fn` in tests/, `a::b::tests::fn` in src/, or a script)
/// exists.
fn exists(root: &Path, name: &str) -> bool {
    if name.ends_with(".sh") {
        return root.join(name).is_file();
    }
    let parts: Vec<&str> = name.split("::").collect();
    let (f, path) = parts.split_last().unwrap();
    let needle = format!("fn {f}(");
    let candidates = if path.len() == 1 {
        vec![root.join("tests").join(format!("{}.rs", path[0]))]
    } else {
        let module: Vec<&str> = path.iter().copied().filter(|p| *p != "tests").collect();
        let base = root.join("src").join(module.join("/"));
        vec![base.with_extension("rs"), base.join("mod.rs")]
    };
    candidates
        .iter()
        .any(|c| fs::read_to_string(c).is_ok_and(|t| t.contains(&needle)))
}

#[test]
fn the_reliability_page_names_real_tests_and_their_real_counts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = fs::read_to_string(root.join("docs/reliability.md")).unwrap();
    let mut named = 0;
    for line in page
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| ---"))
    {
        let cells: Vec<&str> = line.split(" | ").collect();
        if cells.len() < 4 || cells[1] == "test" {
            continue;
        }
        let tests: Vec<&str> = cells[1].split('`').skip(1).step_by(2).collect();
        assert!(!tests.is_empty(), "a row without a test: {line}");
        for t in &tests {
            assert!(
                exists(root, t),
                "docs/reliability.md names {t}, which does not exist"
            );
            named += 1;
        }
        if cells[2].contains('†') {
            let shown: usize = cells[2]
                .split('†')
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .replace(',', "")
                .parse()
                .unwrap_or_else(|_| panic!("no count in {line}"));
            let (_, want) = counts()
                .into_iter()
                .find(|(t, _)| tests.contains(t))
                .unwrap_or_else(|| panic!("a † count with no constant to check: {line}"));
            assert_eq!(shown, want, "docs/reliability.md: {line}");
        }
    }
    assert!(named >= 30, "only {named} tests named");
}
