//! CSV fields, both ways: one line split into its fields (manifests), and a value quoted as a
//! field (every CSV `ser` writes).
//!
//! Written fields quote names that came from data (clips, labels, speakers, experiments), and a
//! spreadsheet runs a cell starting with `=`, `+`, `-` or `@` as a formula
//! (`=HYPERLINK(...)` can send data away when clicked). So [`field`] prefixes such a text cell
//! with `'` (OWASP's rule for CSV injection), which spreadsheets show as text; numbers such as
//! `-0.5` are left as they are, so they stay numbers.

/// A CSV text's header fields and its other non-blank lines (index from 0, line).
pub type HeaderAndLines<'a> = (Vec<String>, Vec<(usize, &'a str)>);

/// The header record of CSV `text` and its other non-blank lines, each with its index from 0
/// (line numbers in messages are that + 1); errors say what is wrong, for the caller to put
/// beside the file's name.
pub fn header_and_lines(text: &str) -> std::result::Result<HeaderAndLines<'_>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header = match lines.next() {
        Some((_, h)) => parse_record(h).map_err(|e| format!("line 1: {e}"))?,
        None => return Err("empty: no header".into()),
    };
    Ok((header, lines.collect()))
}

/// Splits one CSV line into fields: comma-separated, surrounding blanks trimmed, fields may be
/// double-quoted with `""` standing for a quote inside them.
pub fn parse_record(line: &str) -> std::result::Result<Vec<String>, String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected `{c}` after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim_end().to_string());
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field.trim_end().to_string());
        }
    }
}

/// `s` as one CSV field: a text starting like a formula (`=`, `+`, `-`, `@`, tab, carriage
/// return) prefixed with `'` unless it is a number, then quoted (with `""` for a quote) when it
/// holds a comma, a quote or a line break.
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        for s in ["plain", "a,b", "say \"hi\"", "two\nlines", "[1, 2]"] {
            assert_eq!(parse_record(&field(s)).unwrap(), [s.trim()], "{s}");
        }
        assert_eq!(field("[1, 2]"), "\"[1, 2]\"");
    }

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        for (cell, written) in [
            ("=1+1", "'=1+1"),
            ("+1+1", "'+1+1"),
            ("-1+1", "'-1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "\"'\r=1\""),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
            ),
            ("-0.5", "-0.5"),
            ("+3", "+3"),
            ("-1e-3", "-1e-3"),
            ("0.5000", "0.5000"),
            ("a=b", "a=b"),
        ] {
            assert_eq!(field(cell), written, "{cell:?}");
        }
    }
}
