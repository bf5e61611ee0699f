//! The exporters: a [`Summary`] (or several side by side) as Markdown and as CSV.

use std::collections::BTreeMap;

use toml::Value;

use super::summary::{JobResult, Row, Stat, Summary};
use crate::base::csv::field as csv_field;
use crate::eval::GroupScore;
use crate::experiment::{describe, show, value_of, METRICS};
use crate::rundir::JobState;
use crate::split::{Facts, Overlap};

/// Column head and decimals of a metric.
fn metric_info(name: &str) -> (&'static str, usize) {
    METRICS
        .iter()
        .find(|m| m.0 == name)
        .map(|m| (m.1, m.2))
        .unwrap_or(("?", 4))
}

/// `0.4868 ± 0.0050`; a single run without ±; no run `—`.
pub fn cell(stat: Option<Stat>, decimals: usize) -> String {
    match stat {
        None => "—".into(),
        Some(Stat {
            mean, std: Some(s), ..
        }) => format!("{mean:.decimals$} ± {s:.decimals$}"),
        Some(Stat { mean, .. }) => format!("{mean:.decimals$}"),
    }
}

/// Column heads for dotted keys: the last part (`filters`) unless two keys share it.
fn heads(keys: &[String]) -> Vec<String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    keys.iter()
        .map(|k| {
            let l = last(k);
            if keys.iter().filter(|o| last(o) == l).count() > 1 {
                k.clone()
            } else {
                l
            }
        })
        .collect()
}

/// Block text as Markdown that a renderer shows as this text: names in it come from data (an
/// experiment, a label, a grid value), and `<script>` or `[x](javascript:..)` must not become
/// markup. Backticks mark code spans, as in the blocks. A span is kept as code only when it holds
/// nothing that could be markup outside one; everything else is escaped — `<`, `>`, `&` as
/// entities (no renderer reads HTML in those), `\`, a stray backtick and a `]` that could close
/// a link with backslashes — so whatever a renderer takes for code, no markup gets through.
pub(crate) fn md_text(s: &str) -> String {
    fn risky(piece: &str) -> bool {
        piece.contains(['<', '>', '&', '\\'])
            || ["](", "][", "]:"].iter().any(|link| piece.contains(link))
    }
    fn escaped(piece: &str, out: &mut String) {
        let mut chars = piece.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '\\' | '`' => {
                    out.push('\\');
                    out.push(c);
                }
                ']' if matches!(chars.peek(), Some('(' | '[' | ':')) => out.push_str("\\]"),
                c => out.push(c),
            }
        }
    }
    let pieces: Vec<&str> = s.split('`').collect();
    // With an odd number of backticks the last one opens no span: its text is plain text.
    let closed = if pieces.len() % 2 == 0 {
        pieces.len() - 1
    } else {
        pieces.len()
    };
    let mut out = String::with_capacity(s.len());
    for (i, piece) in pieces.iter().enumerate() {
        let code = i % 2 == 1 && i < closed;
        if i == closed {
            out.push_str("\\`");
        }
        if code && !risky(piece) {
            out.push('`');
            out.push_str(piece);
            out.push('`');
        } else {
            escaped(piece, &mut out);
        }
    }
    out
}

/// A table cell's text as Markdown: [`md_text`], with `|` escaped and on one line.
fn md_escape(s: &str) -> String {
    md_text(s).replace('|', "\\|").replace('\n', " ")
}

fn md_table(head: &[String], body: &[Vec<String>]) -> String {
    let head: Vec<String> = head.iter().map(|h| md_escape(h)).collect();
    let mut out = format!("| {} |\n", head.join(" | "));
    out += &format!("|{}\n", "---|".repeat(head.len()));
    for row in body {
        let cells: Vec<String> = row.iter().map(|c| md_escape(c)).collect();
        out += &format!("| {} |\n", cells.join(" | "));
    }
    out
}

fn runs_cell(row: &Row) -> String {
    let mut extra = Vec::new();
    if row.failed > 0 {
        extra.push(format!("{} failed", row.failed));
    }
    if row.halted > 0 {
        extra.push(format!("{} halted", row.halted));
    }
    if row.pending > 0 {
        extra.push(format!("{} not done", row.pending));
    }
    if extra.is_empty() {
        row.done.to_string()
    } else {
        format!("{} ({})", row.done, extra.join(", "))
    }
}

/// One piece of a report document, rendered as Markdown ([`render_markdown`]) or HTML
/// (`report::html`): both formats say the same thing from one description.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Title(String),
    Heading(String),
    /// Lines of one paragraph; text in backticks is code.
    Para(Vec<String>),
    Table {
        head: Vec<String>,
        body: Vec<Vec<String>>,
    },
    /// A picture in the results folder (file name relative to it) and what it shows.
    Image {
        file: String,
        alt: String,
    },
}

/// The charts drawn for one table of a summary: file names in the results folder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableCharts {
    /// The table's `tables_by` values (empty with one table).
    pub table: Vec<Value>,
    /// Accuracy and F-score per grid point (`bars*.png`).
    pub bars: Option<String>,
    /// Validation accuracy by epoch per grid point (`val_accuracy*.png`).
    pub val_accuracy: Option<String>,
}

/// `train.epochs = 30, model.kind = 2d` of a table's `tables_by` values.
pub(crate) fn table_title(keys: &[String], values: &[Value]) -> String {
    keys.iter()
        .zip(values)
        .map(|(k, v)| format!("{k} = {}", show(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary as Markdown: a title, what was averaged, one table per `tables_by` value, then
/// failed jobs and jobs not done yet.
pub fn markdown(s: &Summary) -> String {
    render_markdown(&blocks(s, &[]))
}

/// [`markdown`] with each table's charts under it (`summary.md`).
pub fn markdown_with_charts(s: &Summary, charts: &[TableCharts]) -> String {
    render_markdown(&blocks(s, charts))
}

/// Blocks as Markdown: one blank line between blocks.
pub fn render_markdown(blocks: &[Block]) -> String {
    let parts: Vec<String> = blocks
        .iter()
        .map(|b| match b {
            Block::Title(t) => format!("# {}\n", md_text(t)),
            Block::Heading(t) => format!("## {}\n", md_text(t)),
            Block::Para(lines) => lines.iter().map(|l| md_text(l) + "\n").collect(),
            Block::Table { head, body } => md_table(head, body),
            // File names are ours (no spaces or brackets): a plain link renders everywhere.
            Block::Image { file, alt } => {
                format!("![{}]({file})\n", md_text(&alt.replace(['[', ']'], "")))
            }
        })
        .collect();
    parts.join("\n")
}

/// The summary as document blocks; `charts` go under the table they belong to.
pub fn blocks(s: &Summary, charts: &[TableCharts]) -> Vec<Block> {
    let l = &s.layout;
    let (done, failed, halted, other) = s.counts();
    let mut out = vec![Block::Title(s.name.clone())];
    if let Some(note) = &l.note {
        out.push(Block::Para(vec![note.trim().to_string()]));
    }
    let mut intro = vec![format!(
        "{done} of {} jobs done, {failed} failed, {}{} not done yet ({}).",
        s.jobs.len(),
        if halted > 0 {
            format!("{halted} stopped by successive halving, ")
        } else {
            String::new()
        },
        other,
        s.dir.display()
    )];
    if l.seeds.is_empty() {
        intro.push("One run per row.".into());
    } else {
        intro.push(format!(
            "Cells: mean ± sample standard deviation (n − 1) over {}; n = runs averaged.",
            l.seeds
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if l.references.iter().any(|r| !r.values.is_empty()) {
        intro.push("Columns marked (report) are the published single-run numbers.".into());
    }
    if !s.fixed.is_empty() {
        let f: Vec<String> = s
            .fixed
            .iter()
            .map(|(k, v)| format!("`{k} = {}`", show(v)))
            .collect();
        intro.push(format!(
            "Settings (where not the defaults): {}.",
            f.join(", ")
        ));
    }
    out.push(Block::Para(intro));
    let has_ref: Vec<bool> = (0..l.metrics.len())
        .map(|m| s.rows.iter().any(|r| r.reference[m].is_some()))
        .collect();
    let mut head = heads(&l.rows);
    for (m, name) in l.metrics.iter().enumerate() {
        let (label, _) = metric_info(name);
        head.push(label.to_string());
        if has_ref[m] {
            head.push(format!("{label} (report)"));
        }
    }
    // Only where some run has predictions: folders of older runs keep their tables.
    let show_ci = s.rows.iter().any(|r| r.ci_runs > 0);
    if show_ci {
        head.push(CI_HEAD.into());
        out.push(Block::Para(vec![format!(
            "{CI_HEAD}: a 95% bootstrap interval of the mean test accuracy that resamples \
             speakers, not clips (clips of one speaker are correlated; 10,000 resamples, \
             seeded), from the runs' `predictions.csv`; n/a for runs made before runs wrote it."
        )]));
    }
    head.push("n".into());
    for t in table_keys(s) {
        let title = table_title(&l.tables_by, t);
        if !l.tables_by.is_empty() {
            out.push(Block::Heading(title.clone()));
        }
        out.push(Block::Para(protocol_lines(s, t)));
        let body: Vec<Vec<String>> = s
            .rows
            .iter()
            .filter(|r| &r.table == t)
            .map(|r| {
                let mut cells: Vec<String> = r.label.iter().map(show).collect();
                for (m, name) in l.metrics.iter().enumerate() {
                    let (_, dec) = metric_info(name);
                    cells.push(cell(r.stats[m], dec));
                    if has_ref[m] {
                        cells.push(
                            r.reference[m]
                                .map(|x| format!("{x:.dec$}"))
                                .unwrap_or_else(|| "—".into()),
                        );
                    }
                }
                if show_ci {
                    cells.push(ci_cell(r));
                }
                cells.push(runs_cell(r));
                cells
            })
            .collect();
        out.push(Block::Table {
            head: head.clone(),
            body,
        });
        out.extend(breakdown_tables(s, t));
        for attribute in &l.by {
            out.extend(scores_table(
                s,
                t,
                &format!("By {attribute}: test accuracy and macro F1 within each group of speakers."),
                &format!("By {attribute}: no run has scores per {attribute} (the corpus has no demographics)."),
                &|j: &JobResult| j.groups.get(attribute.as_str()),
            ));
        }
        if s.jobs.iter().any(|j| !j.other_corpora.is_empty()) {
            out.extend(scores_table(
                s,
                t,
                "On other corpora (`[eval] corpora`): accuracy and macro F1 of the same models on \
                 every clip of each corpus whose class they know.",
                "",
                &|j: &JobResult| Some(&j.other_corpora),
            ));
        }
        let of = if l.tables_by.is_empty() {
            String::new()
        } else {
            format!(", {title}")
        };
        for c in charts.iter().filter(|c| &c.table == t) {
            if let Some(f) = &c.bars {
                out.push(Block::Image {
                    file: f.clone(),
                    alt: format!(
                        "Accuracy and F-score (macro F1) per grid point, mean ± std over seeds{of}"
                    ),
                });
            }
            if let Some(f) = &c.val_accuracy {
                out.push(Block::Image {
                    file: f.clone(),
                    alt: format!("Validation accuracy by epoch, mean over seeds{of}"),
                });
            }
        }
    }
    if !s.cuts.is_empty() {
        out.push(Block::Heading("Stopped by successive halving".into()));
        out.push(Block::Para(vec![
            "Grid points cut at a rung by their mean validation macro F1 (the test part of \
             their runs was never read); the others trained on. Their jobs are `halted`."
                .into(),
        ]));
        out.push(Block::Table {
            head: vec![
                "after epoch".into(),
                "grid point".into(),
                "val macro F1".into(),
                "rank".into(),
                "jobs".into(),
            ],
            body: s
                .cuts
                .iter()
                .map(|c| {
                    vec![
                        c.epoch.to_string(),
                        c.point.clone(),
                        c.val_macro_f1.map_or("—".into(), |v| format!("{v:.4}")),
                        format!("{} of {}", c.rank, c.of),
                        c.jobs
                            .iter()
                            .map(|j| format!("`{j}`"))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect(),
        });
    }
    let failed: Vec<Vec<String>> = s
        .jobs
        .iter()
        .filter_map(|j| match &j.state {
            JobState::Failed(m) => Some(vec![
                format!("`{}`", j.job.id),
                describe(&j.job.point),
                m.lines().next().unwrap_or("").to_string(),
            ]),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        out.push(Block::Heading("Failed jobs".into()));
        out.push(Block::Para(vec![
            "The full message is in `error.txt` in the job's folder.".into(),
        ]));
        out.push(Block::Table {
            head: vec!["job".into(), "grid point".into(), "error".into()],
            body: failed,
        });
    }
    let waiting: Vec<Vec<String>> = s
        .jobs
        .iter()
        .filter(|j| {
            matches!(
                j.state,
                JobState::Pending
                    | JobState::Started
                    | JobState::Interrupted(_)
                    | JobState::Running(_)
            )
        })
        .map(|j| {
            vec![
                format!("`{}`", j.job.id),
                describe(&j.job.point),
                match &j.state {
                    JobState::Running(who) => format!("running ({who})"),
                    st => st.word().to_string(),
                },
            ]
        })
        .collect();
    if !waiting.is_empty() {
        out.push(Block::Heading("Not done yet".into()));
        out.push(Block::Table {
            head: vec!["job".into(), "grid point".into(), "state".into()],
            body: waiting,
        });
    }
    if s.stale > 0 {
        out.push(Block::Para(vec![format!(
            "{} job director{} in the folder {} not in this grid (an earlier version of it) \
             and {} left out.",
            s.stale,
            if s.stale == 1 { "y" } else { "ies" },
            if s.stale == 1 { "is" } else { "are" },
            if s.stale == 1 { "is" } else { "are" },
        )]));
    }
    out
}

/// What the split of the table's done runs shares between the parts, from the facts each run
/// recorded: protocol, test speakers and sentences also in training (a range where runs
/// differ), and how many distinct splits the runs used.
fn protocol_lines(s: &Summary, t: &[Value]) -> Vec<String> {
    let done: Vec<&JobResult> = s
        .rows
        .iter()
        .filter(|r| r.table == t)
        .flat_map(|r| r.runs.iter().map(|&i| &s.jobs[i]))
        .filter(|j| j.state == JobState::Done)
        .collect();
    let facts: Vec<&Facts> = done.iter().filter_map(|j| j.facts.as_ref()).collect();
    if facts.is_empty() {
        return if done.is_empty() {
            vec!["Protocol: no run done yet.".into()]
        } else {
            vec!["Protocol: not recorded (runs made before `ser` recorded split facts).".into()]
        };
    }
    // One line per protocol kind (the part before the seed: `random`, `speaker (assignment ...`).
    let mut by_kind: BTreeMap<String, Vec<&Facts>> = BTreeMap::new();
    for f in &facts {
        let kind = f.protocol.split(" (seed").next().unwrap_or(&f.protocol);
        by_kind.entry(kind.to_string()).or_default().push(f);
    }
    let range = |v: Vec<usize>| {
        let (lo, hi) = (v.iter().min().copied(), v.iter().max().copied());
        match (lo, hi) {
            (Some(a), Some(b)) if a == b => a.to_string(),
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => "—".into(),
        }
    };
    let mut lines = Vec::new();
    for (kind, fs) in by_kind {
        let mut parts = vec![format!(
            "{} of {} test speakers also in training",
            range(fs.iter().map(|f| f.speakers.test_in_train).collect()),
            range(fs.iter().map(|f| f.speakers.test).collect())
        )];
        if fs.iter().all(|f| f.sentences.is_some()) {
            let sent = |g: fn(&Overlap) -> usize| {
                range(
                    fs.iter()
                        .filter_map(|f| f.sentences.as_ref().map(g))
                        .collect(),
                )
            };
            parts.push(format!(
                "{} of {} test sentences also in training",
                sent(|o| o.test_in_train),
                sent(|o| o.test)
            ));
        }
        let hashes: std::collections::BTreeSet<&str> = fs.iter().map(|f| f.hash.as_str()).collect();
        lines.push(format!(
            "Protocol: {kind} split: {} ({} run{}, {} distinct split{}).",
            parts.join("; "),
            fs.len(),
            if fs.len() == 1 { "" } else { "s" },
            hashes.len(),
            if hashes.len() == 1 { "" } else { "s" }
        ));
    }
    if s.layout.metrics.iter().any(|m| m == "human_accuracy") {
        lines.push(
            "listeners acc (voice): how often CREMA-D's untrained listeners named the intended \
             emotion of the same test clips from the voice alone (crowd plurality vote, ties \
             counted as misses)."
                .into(),
        );
    }
    lines
}

/// Accuracy and macro F1 per name (a demographic group, another corpus) for each row of the
/// table `t`: mean ± std over the row's done runs; `intro` above the table, `empty` instead of
/// it when no run has scores.
fn scores_table(
    s: &Summary,
    t: &[Value],
    intro: &str,
    empty: &str,
    scores: &dyn Fn(&JobResult) -> Option<&BTreeMap<String, GroupScore>>,
) -> Vec<Block> {
    let rows: Vec<&Row> = s.rows.iter().filter(|r| r.table == t).collect();
    let mut names: Vec<String> = Vec::new();
    for r in &rows {
        for &i in &r.runs {
            for v in scores(&s.jobs[i]).into_iter().flat_map(|g| g.keys()) {
                if !names.contains(v) {
                    names.push(v.clone());
                }
            }
        }
    }
    names.sort();
    if names.is_empty() {
        return if empty.is_empty() {
            Vec::new()
        } else {
            vec![Block::Para(vec![empty.to_string()])]
        };
    }
    let mut head = heads(&s.layout.rows);
    for v in &names {
        head.push(format!("{v} acc"));
        head.push(format!("{v} F1"));
    }
    let body = rows
        .iter()
        .map(|r| {
            let mut cells: Vec<String> = r.label.iter().map(show).collect();
            for v in &names {
                let got: Vec<&GroupScore> = r
                    .runs
                    .iter()
                    .filter_map(|&i| scores(&s.jobs[i])?.get(v))
                    .collect();
                let acc: Vec<f64> = got.iter().map(|g| g.accuracy).collect();
                let f1: Vec<f64> = got.iter().map(|g| g.f1_macro).collect();
                cells.push(cell(Stat::of(&acc), 4));
                cells.push(cell(Stat::of(&f1), 4));
            }
            cells
        })
        .collect();
    vec![
        Block::Para(vec![intro.to_string()]),
        Block::Table { head, body },
    ]
}

/// The distinct `tables_by` values of the rows, in order of first appearance.
pub(crate) fn table_keys(s: &Summary) -> Vec<&Vec<Value>> {
    let mut tables: Vec<&Vec<Value>> = Vec::new();
    for r in &s.rows {
        if !tables.contains(&&r.table) {
            tables.push(&r.table);
        }
    }
    tables
}

/// Per class and per speaker of the table `t`: test accuracy within each, mean over each row's
/// runs that have predictions (none: no tables). Per speaker, rows become columns, since a
/// corpus has more speakers than a table has rows; `—` where a row never tested a speaker.
fn breakdown_tables(s: &Summary, t: &[Value]) -> Vec<Block> {
    type Means = BTreeMap<String, Vec<f64>>;
    let rows: Vec<&Row> = s.rows.iter().filter(|r| r.table == t).collect();
    let mut classes: Vec<String> = Vec::new();
    let mut per_row: Vec<(Means, Means)> = Vec::new();
    for r in &rows {
        let (mut by_class, mut by_speaker) = (Means::new(), Means::new());
        for p in r
            .runs
            .iter()
            .filter_map(|&i| s.jobs[i].predictions.as_ref())
        {
            if classes.is_empty() {
                classes = p.classes.clone();
            }
            let mut counts: [BTreeMap<&str, (f64, f64)>; 2] = Default::default();
            for row in &p.rows {
                let right = f64::from(u8::from(row.truth == row.predicted));
                for (map, key) in counts.iter_mut().zip([&row.truth, &row.speaker]) {
                    let e = map.entry(key.as_str()).or_default();
                    e.0 += right;
                    e.1 += 1.0;
                }
            }
            for (out, map) in [&mut by_class, &mut by_speaker].into_iter().zip(counts) {
                for (key, (right, n)) in map {
                    out.entry(key.to_string()).or_default().push(right / n);
                }
            }
        }
        per_row.push((by_class, by_speaker));
    }
    if classes.is_empty() {
        return Vec::new();
    }
    let mean = |v: Option<&Vec<f64>>| {
        v.filter(|v| !v.is_empty()).map_or_else(
            || "—".to_string(),
            |v| format!("{:.4}", v.iter().sum::<f64>() / v.len() as f64),
        )
    };
    let label = |r: &Row| {
        let l: Vec<String> = r.label.iter().map(show).collect();
        if l.is_empty() {
            "all runs".to_string()
        } else {
            l.join(", ")
        }
    };
    let mut head = heads(&s.layout.rows);
    if rows.iter().any(|r| r.label.is_empty()) {
        head = vec!["runs".into()];
    }
    head.extend(classes.iter().cloned());
    let body = rows
        .iter()
        .zip(&per_row)
        .map(|(r, (by_class, _))| {
            let mut cells: Vec<String> = if r.label.is_empty() {
                vec![label(r)]
            } else {
                r.label.iter().map(show).collect()
            };
            cells.extend(classes.iter().map(|c| mean(by_class.get(c))));
            cells
        })
        .collect();
    let mut speakers: Vec<&String> = per_row.iter().flat_map(|(_, s)| s.keys()).collect();
    speakers.sort();
    speakers.dedup();
    let mut speaker_head = vec!["speaker".to_string()];
    speaker_head.extend(rows.iter().map(|r| label(r)));
    let speaker_body = speakers
        .iter()
        .map(|sp| {
            let mut cells = vec![sp.to_string()];
            cells.extend(per_row.iter().map(|(_, by)| mean(by.get(*sp))));
            cells
        })
        .collect();
    vec![
        Block::Para(vec![
            "Per class: test accuracy within each true class (its recall), mean over the runs \
             with `predictions.csv`."
                .into(),
        ]),
        Block::Table { head, body },
        Block::Para(vec![
            "Per speaker: test accuracy on each speaker's clips, mean over the runs that tested \
             the speaker."
                .into(),
        ]),
        Block::Table {
            head: speaker_head,
            body: speaker_body,
        },
    ]
}

/// The interval column's head.
const CI_HEAD: &str = "acc 95% CI (speakers)";

/// `[0.4012, 0.5523]`, with how many runs it covers where not all; `n/a` without predictions.
fn ci_cell(r: &Row) -> String {
    match r.accuracy_ci {
        Some(i) if r.ci_runs == r.done => format!("[{:.4}, {:.4}]", i.low, i.high),
        Some(i) => format!(
            "[{:.4}, {:.4}] ({} of {} runs)",
            i.low, i.high, r.ci_runs, r.done
        ),
        None => "n/a".into(),
    }
}

fn num(x: Option<f64>) -> String {
    x.map(|v| format!("{v}")).unwrap_or_default()
}

/// The summary as CSV: one line per row, keys as dotted columns, each metric as
/// `<metric>_mean,<metric>_std[,<metric>_reference]`, then `n,failed,not_done`, then the
/// protocol's columns (what the test part shares with training).
pub fn csv(s: &Summary) -> String {
    let l = &s.layout;
    let has_ref: Vec<bool> = (0..l.metrics.len())
        .map(|m| s.rows.iter().any(|r| r.reference[m].is_some()))
        .collect();
    let mut head: Vec<String> = vec!["experiment".into()];
    head.extend(l.tables_by.iter().cloned());
    head.extend(l.rows.iter().cloned());
    for (m, name) in l.metrics.iter().enumerate() {
        head.push(format!("{name}_mean"));
        head.push(format!("{name}_std"));
        if has_ref[m] {
            head.push(format!("{name}_reference"));
        }
    }
    head.extend(["n".into(), "failed".into(), "not_done".into()]);
    head.extend(PROTOCOL_COLUMNS.iter().map(|c| c.to_string()));
    let show_ci = s.rows.iter().any(|r| r.ci_runs > 0);
    if show_ci {
        head.extend([
            "accuracy_ci_low".into(),
            "accuracy_ci_high".into(),
            "ci_runs".into(),
        ]);
    }
    let mut out = head.join(",") + "\n";
    for r in &s.rows {
        let mut cells = vec![s.name.clone()];
        cells.extend(r.table.iter().chain(&r.label).map(show));
        for ((stat, reference), shown) in r.stats.iter().zip(&r.reference).zip(&has_ref) {
            cells.push(num(stat.map(|x| x.mean)));
            cells.push(num(stat.and_then(|x| x.std)));
            if *shown {
                cells.push(num(*reference));
            }
        }
        cells.extend([
            r.done.to_string(),
            r.failed.to_string(),
            r.pending.to_string(),
        ]);
        cells.extend(protocol_cells(s, r));
        if show_ci {
            cells.push(num(r.accuracy_ci.map(|i| i.low)));
            cells.push(num(r.accuracy_ci.map(|i| i.high)));
            cells.push(r.ci_runs.to_string());
        }
        let cells: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        out += &(cells.join(",") + "\n");
    }
    out
}

/// The protocol columns of `summary.csv`: what the row's test parts share with training, the
/// most over its done runs (empty where the runs recorded no split facts).
const PROTOCOL_COLUMNS: [&str; 6] = [
    "protocol",
    "test_speakers_in_train",
    "test_speakers",
    "test_sentences_in_train",
    "test_sentences",
    "distinct_splits",
];

fn protocol_cells(s: &Summary, r: &Row) -> Vec<String> {
    let facts: Vec<&Facts> = r
        .runs
        .iter()
        .filter_map(|&i| s.jobs[i].facts.as_ref())
        .collect();
    if facts.is_empty() {
        return vec![String::new(); PROTOCOL_COLUMNS.len()];
    }
    let max = |f: &dyn Fn(&Facts) -> Option<usize>| {
        facts
            .iter()
            .filter_map(|x| f(x))
            .max()
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let mut kinds: Vec<&str> = facts
        .iter()
        .map(|f| f.protocol.split(" (seed").next().unwrap_or(&f.protocol))
        .collect();
    kinds.dedup();
    let hashes: std::collections::BTreeSet<&str> = facts.iter().map(|f| f.hash.as_str()).collect();
    vec![
        kinds.join("; "),
        max(&|f| Some(f.speakers.test_in_train)),
        max(&|f| Some(f.speakers.test)),
        max(&|f| f.sentences.map(|o| o.test_in_train)),
        max(&|f| f.sentences.map(|o| o.test)),
        hashes.len().to_string(),
    ]
}

/// Rows of several experiments aligned on their keys: the union of every experiment's row and
/// table keys, each row's values read from its jobs' configs.
struct Aligned {
    keys: Vec<String>,
    metrics: Vec<String>,
    /// Key values → per experiment, the row there (if any).
    rows: Vec<(Vec<String>, Vec<Option<Row>>)>,
}

fn align(summaries: &[Summary]) -> Aligned {
    let mut keys: Vec<String> = Vec::new();
    for s in summaries {
        for k in s.layout.tables_by.iter().chain(&s.layout.rows) {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let metrics: Vec<String> = summaries
        .first()
        .map(|s| s.layout.metrics.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| summaries.iter().all(|s| s.layout.metrics.contains(m)))
        .collect();
    let mut rows: Vec<(Vec<String>, Vec<Option<Row>>)> = Vec::new();
    for (e, s) in summaries.iter().enumerate() {
        // Where each shown metric sits in this summary's own metric list (none: not measured).
        let at: Vec<Option<usize>> = metrics
            .iter()
            .map(|m| s.layout.metrics.iter().position(|x| x == m))
            .collect();
        for r in &s.rows {
            let values: Vec<String> = keys
                .iter()
                .map(|k| {
                    value_of(&r.job, k)
                        .map(|v| show(&v))
                        .unwrap_or_else(|| "—".into())
                })
                .collect();
            let mut projected = r.clone();
            projected.stats = at.iter().map(|i| i.and_then(|i| r.stats[i])).collect();
            projected.reference = at.iter().map(|i| i.and_then(|i| r.reference[i])).collect();
            match rows.iter_mut().find(|(v, _)| *v == values) {
                Some((_, per)) => per[e] = Some(projected),
                None => {
                    let mut per = vec![None; summaries.len()];
                    per[e] = Some(projected);
                    rows.push((values, per));
                }
            }
        }
    }
    Aligned {
        keys,
        metrics,
        rows,
    }
}

/// Several experiments side by side: one table, rows aligned on the union of their keys, for
/// each metric one column per experiment (and the published number, where one is known).
pub fn compare_markdown(summaries: &[Summary]) -> String {
    let a = align(summaries);
    let names: Vec<&str> = summaries.iter().map(|s| s.name.as_str()).collect();
    let mut out = format!("# {}\n\n", md_text(&names.join(" vs ")));
    out += "Cells: mean ± sample standard deviation over seeds; — where an experiment has no such row.\n\n";
    let reference: Vec<Vec<Option<f64>>> = a
        .rows
        .iter()
        .map(|(_, per)| {
            (0..a.metrics.len())
                .map(|m| per.iter().flatten().find_map(|r| r.reference[m]))
                .collect()
        })
        .collect();
    let has_ref: Vec<bool> = (0..a.metrics.len())
        .map(|m| reference.iter().any(|r| r[m].is_some()))
        .collect();
    let mut head = heads(&a.keys);
    for (m, name) in a.metrics.iter().enumerate() {
        let (label, _) = metric_info(name);
        for n in &names {
            head.push(format!("{label} ({n})"));
        }
        if has_ref[m] {
            head.push(format!("{label} (report)"));
        }
    }
    for n in &names {
        head.push(format!("n ({n})"));
    }
    let body: Vec<Vec<String>> = a
        .rows
        .iter()
        .zip(&reference)
        .map(|((values, per), refs)| {
            let mut cells = values.clone();
            for (m, name) in a.metrics.iter().enumerate() {
                let (_, dec) = metric_info(name);
                for r in per {
                    cells.push(r.as_ref().map_or("—".into(), |r| cell(r.stats[m], dec)));
                }
                if has_ref[m] {
                    cells.push(refs[m].map_or("—".into(), |x| format!("{x:.dec$}")));
                }
            }
            for r in per {
                cells.push(r.as_ref().map_or("—".into(), runs_cell));
            }
            cells
        })
        .collect();
    out += &md_table(&head, &body);
    out
}

/// [`compare_markdown`] as CSV: one line per (row, experiment).
pub fn compare_csv(summaries: &[Summary]) -> String {
    let a = align(summaries);
    let mut head: Vec<String> = vec!["experiment".into()];
    head.extend(a.keys.iter().cloned());
    for m in &a.metrics {
        head.extend([
            format!("{m}_mean"),
            format!("{m}_std"),
            format!("{m}_reference"),
        ]);
    }
    head.push("n".into());
    let mut out = head.join(",") + "\n";
    let by_name: BTreeMap<usize, &str> = summaries
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.name.as_str()))
        .collect();
    for (values, per) in &a.rows {
        for (e, r) in per.iter().enumerate() {
            let Some(r) = r else { continue };
            let mut cells = vec![by_name[&e].to_string()];
            cells.extend(values.iter().cloned());
            for m in 0..a.metrics.len() {
                cells.push(num(r.stats[m].map(|x| x.mean)));
                cells.push(num(r.stats[m].and_then(|x| x.std)));
                cells.push(num(r.reference[m]));
            }
            cells.push(r.done.to_string());
            let cells: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
            out += &(cells.join(",") + "\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_heads() {
        assert_eq!(cell(Stat::of(&[0.5, 0.6, 0.7]), 4), "0.6000 ± 0.1000");
        assert_eq!(cell(Stat::of(&[12.0]), 1), "12.0");
        assert_eq!(cell(None, 4), "—");
        let keys = vec![
            "model.filters".to_string(),
            "model.kind".into(),
            "features.kind".into(),
        ];
        assert_eq!(heads(&keys), ["filters", "model.kind", "features.kind"]);
        assert_eq!(csv_field("[1, 2]"), "\"[1, 2]\"");
    }

    #[test]
    fn markdown_text_shows_names_as_text() {
        for (text, md) in [
            ("over `train.seed`", "over `train.seed`"),
            ("| [8] | `a = [1, 2]` |", "| [8] | `a = [1, 2]` |"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            // A name inside a code span that could be markup outside one is escaped instead.
            ("`k = <b>`", "k = &lt;b&gt;"),
            // A stray backtick opens nothing.
            ("a`<b>", "a\\`&lt;b&gt;"),
            ("`x`y`<i>", "`x`y\\`&lt;i&gt;"),
            ("[x](javascript:alert(1))", "[x\\](javascript:alert(1))"),
            ("[x]: http://e", "[x\\]: http://e"),
            ("a\\<b", "a\\\\&lt;b"),
            ("R&B", "R&amp;B"),
        ] {
            assert_eq!(md_text(text), md, "{text:?}");
        }
    }
}
