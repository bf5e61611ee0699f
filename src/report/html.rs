//! `report.html`: one self-contained page (tables, charts and each run's confusion matrix, the
//! pictures inlined as base64 `data:` URIs, styles inline, no scripts or fonts from elsewhere),
//! so it opens offline and can be mailed as one file.
//!
//! Built as plain strings from the same [`Block`]s as `summary.md`; every piece of text goes
//! through [`escape`].

use std::path::Path;

use base64::Engine;

use super::summary::Summary;
use super::table::{table_keys, table_title, Block};
use crate::experiment::{describe, show};
use crate::rundir::{JobState, RunDir};

/// Text as HTML: the five characters with meaning in markup (text and attribute values).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with `code` spans (backticks, as in the Markdown) as `<code>`.
fn inline(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// Width and height of a PNG file's bytes, after checking its signature and header chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Some((be(16), be(20))).filter(|(w, h)| *w > 0 && *h > 0)
}

/// A PNG file as `<img>`, inlined; an error names the file and says what is wrong.
fn image(path: &Path, alt: &str) -> std::result::Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{}: missing", path.display()),
        _ => format!("{}: unreadable: {e}", path.display()),
    })?;
    let (w, h) = png_size(&bytes).ok_or_else(|| format!("{}: not a PNG image", path.display()))?;
    Ok(format!(
        "<img src=\"data:image/png;base64,{}\" width=\"{w}\" height=\"{h}\" alt=\"{}\">",
        base64::engine::general_purpose::STANDARD.encode(&bytes),
        escape(alt)
    ))
}

/// A picture with its caption (HTML; none when empty), or, where the file cannot be used, a
/// visible note (and a warning) in its place.
fn figure(path: &Path, alt: &str, caption: &str, warnings: &mut Vec<String>) -> String {
    match image(path, alt) {
        Ok(img) if caption.is_empty() => format!("<figure>{img}</figure>\n"),
        Ok(img) => format!("<figure>{img}<figcaption>{caption}</figcaption></figure>\n"),
        Err(e) => {
            let note = format!("picture left out: {e}");
            warnings.push(note.clone());
            format!("<p class=\"missing\">{}</p>\n", escape(&note))
        }
    }
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;\
max-width:1200px;margin:1.5em auto;padding:0 1em;line-height:1.45}\
h1{font-size:1.7em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
h2{font-size:1.3em;margin-top:1.8em}h3{font-size:1.05em;margin:1.2em 0 .4em}\
table{border-collapse:collapse;margin:.8em 0}\
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:right;font-variant-numeric:tabular-nums}\
th{background:#f2f4f7}tr:nth-child(even) td{background:#fafafa}\
td:first-child,th:first-child{text-align:left}\
code{background:#f2f2f2;padding:0 .25em;border-radius:3px;font-size:.92em}\
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #e5e5e5}\
figcaption{font-size:.9em;color:#555}\
.runs{display:flex;flex-wrap:wrap;gap:1em}.runs figure{width:560px;margin:0}\
.missing{color:#a00}";

/// Marks each picture with the size the browser decoded (`data-size`), or, where it could not
/// decode one, flags it (`data-broken`) and says so under it: a reader sees a note instead of
/// an empty frame, and a test can check every picture decoded.
const SCRIPT: &str = "\
for (const img of document.images) {\
 const mark = () => {\
  if (img.naturalWidth > 0) { img.dataset.size = img.naturalWidth + 'x' + img.naturalHeight; }\
  else { img.dataset.broken = ''; const p = document.createElement('p'); p.className = 'missing';\
   p.textContent = 'This picture could not be decoded: ' + img.alt; img.after(p); }\
 };\
 if (img.complete) mark(); else { img.addEventListener('load', mark); img.addEventListener('error', mark); }\
}";

/// `report.html` of `s` from its document `blocks` (with their charts) plus a section of the
/// runs' confusion matrices; returns the page and warnings for pictures left out.
pub fn render(s: &Summary, blocks: &[Block]) -> (String, Vec<String>) {
    let mut warnings = Vec::new();
    let mut body = String::new();
    for b in blocks {
        match b {
            Block::Title(t) => body += &format!("<h1>{}</h1>\n", escape(t)),
            Block::Heading(t) => body += &format!("<h2>{}</h2>\n", escape(t)),
            Block::Para(lines) => {
                let lines: Vec<String> = lines.iter().map(|l| inline(l)).collect();
                body += &format!("<p>{}</p>\n", lines.join("<br>\n"));
            }
            Block::Table { head, body: rows } => {
                body += "<table>\n<thead><tr>";
                for h in head {
                    body += &format!("<th>{}</th>", escape(h));
                }
                body += "</tr></thead>\n<tbody>\n";
                for row in rows {
                    body += "<tr>";
                    for c in row {
                        body += &format!("<td>{}</td>", inline(c));
                    }
                    body += "</tr>\n";
                }
                body += "</tbody>\n</table>\n";
            }
            // Charts carry their title in the picture: no caption repeating it.
            Block::Image { file, alt } => {
                body += &figure(&s.dir.join(file), alt, "", &mut warnings)
            }
        }
    }
    body += &confusion_section(s, &mut warnings);
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — ser report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        escape(&s.name)
    );
    (page, warnings)
}

/// Each done run's `confusion.png`, grouped by table and row, captioned with its grid point
/// (seed included) and job id.
fn confusion_section(s: &Summary, warnings: &mut Vec<String>) -> String {
    let l = &s.layout;
    let mut out = String::new();
    for t in table_keys(s) {
        for r in s.rows.iter().filter(|r| &r.table == t) {
            let done: Vec<usize> = r
                .runs
                .iter()
                .copied()
                .filter(|&i| s.jobs[i].state == JobState::Done)
                .collect();
            if done.is_empty() {
                continue;
            }
            let mut title: Vec<String> = l
                .rows
                .iter()
                .zip(&r.label)
                .map(|(k, v)| format!("{k} = {}", show(v)))
                .collect();
            if !l.tables_by.is_empty() {
                title.insert(0, table_title(&l.tables_by, t));
            }
            let title = if title.is_empty() {
                s.name.clone()
            } else {
                title.join(", ")
            };
            out += &format!("<h3>{}</h3>\n<div class=\"runs\">\n", escape(&title));
            for i in done {
                let j = &s.jobs[i].job;
                let point = if j.point.is_empty() {
                    j.id.clone()
                } else {
                    describe(&j.point)
                };
                let caption = format!("{}<br><code>{}</code>", escape(&point), escape(&j.id));
                let alt = format!("Confusion matrix of {point}");
                out += &figure(
                    &RunDir::new(s.dir.join(&j.id)).confusion_png(),
                    &alt,
                    &caption,
                    warnings,
                );
            }
            out += "</div>\n";
        }
    }
    if out.is_empty() {
        return out;
    }
    format!(
        "<h2>Confusion matrices</h2>\n<p>One per run, on its test split; rows are the true \
         emotion, normalised to 1.</p>\n{out}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_code_spans_kept() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            inline("over `train.seed` & <b>"),
            "over <code>train.seed</code> &amp; &lt;b&gt;"
        );
    }

    #[test]
    fn only_pngs_are_inlined() {
        assert_eq!(png_size(b"GIF89a................................"), None);
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 4, 176, 0, 0, 2, 8]);
        assert_eq!(png_size(&png), Some((1200, 520)));
    }
}
