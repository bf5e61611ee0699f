//! Splits: the report's stratified counts on the real CREMA-D file list (from `../shared`,
//! skipped with a message when absent), speaker-disjoint protocols, determinism, and the lists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ser::corpus::{crema_d, Corpus, EMOTIONS};
use ser::split::{make_split, write_lists, Facts, Split};
use ser::{CorpusKind, Error, SplitConfig, SplitKind};

/// The full CREMA-D corpus built from the official file list (built in; no audio needed).
fn crema_d_corpus() -> Option<Corpus> {
    let entries = crema_d::meta::manifest().unwrap();
    let names = entries.iter().map(|e| e.name.as_str());
    Some(crema_d::corpus_from_names(Path::new("AudioWAV"), names, CorpusKind::CremaD).unwrap())
}

/// A small CREMA-D-like corpus: `actors` actors × 6 emotions × 4 sentences.
fn small_corpus(actors: usize) -> Corpus {
    let sentences = ["DFA", "IEO", "IOM", "ITH"];
    let mut names = Vec::new();
    for a in 0..actors {
        for e in EMOTIONS {
            for s in sentences {
                names.push(format!("{}_{s}_{e}_XX.wav", 1001 + a));
            }
        }
    }
    crema_d::corpus_from_names(
        Path::new("/c"),
        names.iter().map(String::as_str),
        CorpusKind::CremaD,
    )
    .unwrap()
}

fn cfg(kind: SplitKind, seed: u64) -> SplitConfig {
    SplitConfig {
        kind,
        seed,
        ..SplitConfig::default()
    }
}

fn per_class(corpus: &Corpus, idx: &[usize]) -> Vec<usize> {
    let mut counts = vec![0; corpus.classes.len()];
    for &i in idx {
        counts[corpus.items[i].label] += 1;
    }
    counts
}

fn speakers_of<'a>(corpus: &'a Corpus, idx: &[usize]) -> BTreeSet<&'a str> {
    idx.iter()
        .map(|&i| corpus.items[i].speaker.as_str())
        .collect()
}

/// Each part sorted, and every item in exactly one part.
fn assert_partition(corpus: &Corpus, s: &Split) {
    for (name, part) in s.parts() {
        assert!(part.windows(2).all(|w| w[0] < w[1]), "{name} not sorted");
    }
    let mut all: Vec<usize> = s
        .train
        .iter()
        .chain(&s.valid)
        .chain(&s.test)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..corpus.items.len()).collect::<Vec<_>>());
}

#[test]
fn random_split_gives_the_reports_counts_on_crema_d() {
    let Some(c) = crema_d_corpus() else { return };
    for seed in [0, 1, 42, 1234] {
        let s = make_split(&c, &cfg(SplitKind::Random, seed)).unwrap();
        assert_partition(&c, &s);
        assert_eq!(
            (s.train.len(), s.valid.len(), s.test.len()),
            (4948, 261, 2233)
        );
        let test = per_class(&c, &s.test);
        assert_eq!(test[4], 326, "NEU");
        let mut emo: Vec<usize> = test
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 4)
            .map(|(_, n)| *n)
            .collect();
        emo.sort_unstable();
        assert_eq!(emo, [381, 381, 381, 382, 382], "seed {seed}: {test:?}");
        // Validation: 261 of the 5,209 rest, stratified the same way.
        let valid = per_class(&c, &s.valid);
        assert!(valid.iter().all(|&n| (38..=46).contains(&n)), "{valid:?}");
        assert!((38..=39).contains(&valid[4]), "{valid:?}");
    }
}

#[test]
fn random_split_is_deterministic_per_seed() {
    let c = small_corpus(10);
    let a = make_split(&c, &cfg(SplitKind::Random, 7)).unwrap();
    let b = make_split(&c, &cfg(SplitKind::Random, 7)).unwrap();
    assert_eq!(a, b);
    let other = make_split(&c, &cfg(SplitKind::Random, 8)).unwrap();
    assert_ne!(a.test, other.test);
    assert_partition(&c, &a);
    // 240 items: test ceil(72) = 72 (12 per class), train 168, valid ceil(8.4) = 9.
    assert_eq!((a.train.len(), a.valid.len(), a.test.len()), (159, 9, 72));
    assert_eq!(per_class(&c, &a.test), [12; 6]);
}

#[test]
fn random_split_without_validation() {
    let c = small_corpus(3);
    let s = make_split(
        &c,
        &SplitConfig {
            valid: 0.0,
            ..cfg(SplitKind::Random, 0)
        },
    )
    .unwrap();
    assert!(s.valid.is_empty());
    assert_partition(&c, &s);
    assert_eq!((s.train.len(), s.test.len()), (50, 22));
}

#[test]
fn random_split_needs_two_items_per_class() {
    let c = crema_d::corpus_from_names(
        Path::new("/c"),
        [
            "1001_DFA_ANG_XX.wav",
            "1001_IEO_ANG_XX.wav",
            "1001_IOM_ANG_XX.wav",
            "1001_DFA_SAD_XX.wav",
        ],
        CorpusKind::CremaD,
    )
    .unwrap();
    let err = make_split(&c, &cfg(SplitKind::Random, 0)).unwrap_err();
    assert!(matches!(err, Error::Split(_)));
    assert_eq!(
        err.to_string(),
        "split: class SAD has only 1 item(s) before the test split; a stratified split needs at least 2 per class"
    );
}

#[test]
fn speaker_split_on_crema_d() {
    let Some(c) = crema_d_corpus() else { return };
    let s = make_split(&c, &cfg(SplitKind::Speaker, 0)).unwrap();
    assert_partition(&c, &s);
    let (tr, va, te) = (
        speakers_of(&c, &s.train),
        speakers_of(&c, &s.valid),
        speakers_of(&c, &s.test),
    );
    // 91 actors: round(27.3) = 27 test, round(0.05 · 64) = 3 validation, 61 train.
    assert_eq!((tr.len(), va.len(), te.len()), (61, 3, 27));
    assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
    assert_eq!(make_split(&c, &cfg(SplitKind::Speaker, 0)).unwrap(), s);
    assert_ne!(make_split(&c, &cfg(SplitKind::Speaker, 1)).unwrap(), s);
}

#[test]
fn speaker_split_small_and_too_small() {
    let c = small_corpus(3);
    let s = make_split(&c, &cfg(SplitKind::Speaker, 5)).unwrap();
    assert_partition(&c, &s);
    // 3 speakers: 1 test (round 0.9), 1 validation (at least one), 1 train.
    let parts = [&s.train, &s.valid, &s.test].map(|p| speakers_of(&c, p).len());
    assert_eq!(parts, [1, 1, 1]);

    let c = small_corpus(2);
    let err = make_split(&c, &cfg(SplitKind::Speaker, 0)).unwrap_err();
    assert!(matches!(err, Error::Split(_)));
    assert_eq!(
        err.to_string(),
        "split: the corpus has 2 speaker(s), but this speaker split needs at least 3: 1 test, 1 validation and 1 training"
    );
    // Without validation two speakers are enough.
    let s = make_split(
        &c,
        &SplitConfig {
            valid: 0.0,
            ..cfg(SplitKind::Speaker, 0)
        },
    )
    .unwrap();
    assert!(s.valid.is_empty());
    assert_partition(&c, &s);
}

#[test]
fn speaker_kfold_covers_every_speaker_once() {
    let c = small_corpus(23);
    let folds = 5;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut sizes = Vec::new();
    for fold in 0..folds {
        let k = SplitConfig {
            kind: SplitKind::SpeakerKfold,
            folds,
            fold,
            seed: 3,
            ..SplitConfig::default()
        };
        let s = make_split(&c, &k).unwrap();
        assert_partition(&c, &s);
        assert_eq!(make_split(&c, &k).unwrap(), s);
        let (tr, va, te) = (
            speakers_of(&c, &s.train),
            speakers_of(&c, &s.valid),
            speakers_of(&c, &s.test),
        );
        assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
        // round(0.05 · 18 or 19) = 1 validation speaker.
        assert_eq!(va.len(), 1);
        sizes.push(te.len());
        for sp in te {
            *seen.entry(sp.to_string()).or_default() += 1;
        }
    }
    assert_eq!(sizes, [5, 5, 5, 4, 4]);
    assert_eq!(seen.len(), 23);
    assert!(seen.values().all(|&n| n == 1));
}

#[test]
fn speaker_kfold_needs_enough_speakers() {
    let c = small_corpus(4);
    let k = SplitConfig {
        kind: SplitKind::SpeakerKfold,
        folds: 5,
        ..SplitConfig::default()
    };
    assert_eq!(
        make_split(&c, &k).unwrap_err().to_string(),
        "split: 5 folds need at least 5 speakers, but the corpus has 4"
    );
    let bad = SplitConfig { fold: 5, ..k };
    assert!(make_split(&c, &bad)
        .unwrap_err()
        .to_string()
        .contains("0 <= fold < folds"));
}

#[test]
fn bad_fractions_are_errors() {
    let c = small_corpus(3);
    for (test, valid) in [
        (0.0, 0.05),
        (1.0, 0.05),
        (0.3, 1.0),
        (0.3, -0.1),
        (f64::NAN, 0.0),
    ] {
        let k = SplitConfig {
            test,
            valid,
            ..SplitConfig::default()
        };
        assert!(
            matches!(make_split(&c, &k), Err(Error::Split(_))),
            "{test} {valid}"
        );
    }
}

#[test]
fn lists_are_written() {
    let c = small_corpus(10);
    let s = make_split(&c, &cfg(SplitKind::Random, 0)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run/split");
    write_lists(&out, &c, &s).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["test.txt", "train.txt", "valid.txt"]);
    for (name, part) in s.parts() {
        let text = std::fs::read_to_string(out.join(format!("{name}.txt"))).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), part.len());
        for (line, &i) in lines.iter().zip(part) {
            let item = &c.items[i];
            let expected = format!(
                "{}\t{}",
                item.path.file_name().unwrap().to_str().unwrap(),
                c.classes[item.label]
            );
            assert_eq!(*line, expected);
        }
    }
    // Rewriting replaces the lists.
    write_lists(&out, &c, &Split::default()).unwrap();
    assert_eq!(std::fs::read_to_string(out.join("test.txt")).unwrap(), "");
}

#[test]
fn emodb_random_split() {
    let Some(shared) = crate::common::shared("data") else {
        return;
    };
    let c = ser::corpus::emodb::read_dir(&shared.join("emodb/wav"), false).unwrap();
    let s = make_split(&c, &cfg(SplitKind::Random, 0)).unwrap();
    assert_partition(&c, &s);
    // 289 clips: test ceil(86.7) = 87, rest 202, validation ceil(10.1) = 11.
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (191, 11, 87));
}

/// The speaker split shipped for CREMA-D (`split.assignment = "crema-d"`) is the balanced seeded
/// draw it claims to be: redrawn here and compared line by line; actor-disjoint, and each sex
/// and age band spread over the parts in proportion.
#[test]
fn the_shipped_crema_d_speaker_split_is_the_balanced_draw() {
    let corpus = crema_d_corpus().unwrap();
    let balanced = SplitConfig {
        kind: SplitKind::Speaker,
        test: 0.3,
        valid: 0.15,
        seed: 0,
        balance: vec!["sex".into(), "age".into()],
        ..SplitConfig::default()
    };
    let drawn = make_split(&corpus, &balanced).unwrap();
    let part_of = |s: &str| {
        for (name, part) in drawn.parts() {
            if part.iter().any(|&i| corpus.items[i].speaker == s) {
                return name;
            }
        }
        "none"
    };
    let mut expected = String::from("speaker,part\n");
    for s in corpus.speakers() {
        expected += &format!("{s},{}\n", part_of(s));
    }
    assert_eq!(
        crema_d::meta::SPEAKER_SPLIT,
        expected,
        "assets/crema-d/speaker-split.csv is not the balanced draw; the draw is:\n{expected}"
    );
    let fixed = SplitConfig {
        kind: SplitKind::Speaker,
        assignment: Some("crema-d".into()),
        ..SplitConfig::default()
    };
    let shipped = make_split(&corpus, &fixed).unwrap();
    assert_eq!(shipped, drawn);
    let facts = Facts::of(&corpus, &shipped, &fixed);
    assert_eq!(facts.speakers.test_in_train, 0);
    assert_eq!(facts.speakers.valid_in_train, 0);
    assert_eq!(
        (
            facts.speakers.train,
            facts.speakers.valid,
            facts.speakers.test
        ),
        (54, 10, 27)
    );
    // Each sex's share of the test speakers is within one speaker of its overall share.
    let sexes = |part: &[usize]| -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for &i in part {
            let sp = &corpus.items[i].speaker;
            m.entry(corpus.demographics[sp].sex.clone())
                .or_default()
                .insert(sp.clone());
        }
        m
    };
    let all: Vec<usize> = (0..corpus.items.len()).collect();
    let (total, test) = (sexes(&all), sexes(&shipped.test));
    for (sex, members) in &total {
        let want = members.len() as f64 * 27.0 / 91.0;
        let got = test[sex].len() as f64;
        assert!(
            (got - want).abs() <= 1.0,
            "{sex}: {got} of 27, want ~{want:.1}"
        );
    }
}

/// What each protocol shares between training and test, checked on the lists.
#[test]
fn facts_state_what_the_parts_share() {
    let corpus = crema_d_corpus().unwrap();
    let facts = |kind: SplitKind| {
        let c = cfg(kind, 0);
        let split = make_split(&corpus, &c).unwrap();
        (Facts::of(&corpus, &split, &c), split)
    };
    let (random, _) = facts(SplitKind::Random);
    assert_eq!(
        (random.speakers.test_in_train, random.speakers.test),
        (91, 91)
    );
    let s = random.sentences.unwrap();
    assert_eq!((s.test_in_train, s.test), (12, 12));
    assert!(random
        .statement()
        .starts_with("random (seed 0): 91 of 91 test speakers"));

    let (sentence, split) = facts(SplitKind::Sentence);
    let s = sentence.sentences.unwrap();
    assert_eq!((s.test_in_train, s.test, s.valid, s.train), (0, 4, 1, 7));
    assert_eq!(sentence.speakers.test_in_train, 91);
    assert_partition(&corpus, &split);

    let (both, split) = facts(SplitKind::SpeakerSentence);
    let s = both.sentences.unwrap();
    assert_eq!((both.speakers.test_in_train, s.test_in_train), (0, 0));
    assert!(both.clips["left_out"] > 0);
    let in_parts = split.train.len() + split.valid.len() + split.test.len();
    assert_eq!(in_parts + split.left_out.len(), corpus.items.len());
    // Same seed, same lists, same hash; another seed, another hash.
    let again = facts(SplitKind::SpeakerSentence).0;
    assert_eq!(again.hash, both.hash);
    let other = cfg(SplitKind::SpeakerSentence, 1);
    let other = Facts::of(&corpus, &make_split(&corpus, &other).unwrap(), &other);
    assert_ne!(other.hash, both.hash);
}
