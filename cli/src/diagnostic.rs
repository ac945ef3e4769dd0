//! Diagnostics: one error or warning about a stack file, rendered rustc-style with a caret excerpt.

use crate::source::{SourceFile, Span};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding. `code` names the rule that produced it (e.g. `E101`), so users can look it up.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: PathBuf,
    pub span: Option<Span>,
    /// Short text shown under the caret.
    pub label: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: PathBuf::new(),
            span: None,
            label: None,
            hint: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn at(mut self, file: &SourceFile, span: Span) -> Self {
        self.file = file.path.clone();
        self.span = Some(span);
        self
    }

    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = file.into();
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render as text: header, `--> file:line:col`, the source line with a caret, and the hint.
    /// `source` must be the file the span refers to, when there is one.
    pub fn render(&self, source: Option<&SourceFile>) -> String {
        let mut out = String::new();
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{sev}[{}]: {}", self.code, self.message);
        match (self.span, source) {
            (Some(span), Some(src)) => {
                let _ = writeln!(
                    out,
                    "  --> {}:{}:{}",
                    self.file.display(),
                    span.line,
                    span.col
                );
                // A long line (generated SQL, minified YAML) is shown around the column only.
                let full = src.line_text(span.line);
                let (clipped, col) = window(full, span.col as usize);
                let line = clipped.as_str();
                let gutter = span.line.to_string().len();
                let pad = " ".repeat(gutter);
                let _ = writeln!(out, "{pad} |");
                // Control characters (a NUL, an escape sequence) are shown as their pictures, never
                // sent to the terminal.
                let shown: String = line
                    .chars()
                    .map(|c| match c {
                        '\t' => c,
                        c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('?'),
                        '\u{7f}' => '\u{2421}',
                        c => c,
                    })
                    .collect();
                let _ = writeln!(out, "{} | {}", span.line, shown);
                let prefix: String = line
                    .chars()
                    .take(col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let rest = line.chars().count().saturating_sub(prefix.chars().count());
                let width = src
                    .text
                    .get(span.start..span.start + span.len)
                    .map_or(1, |s| s.chars().count())
                    .clamp(1, rest.max(1));
                let carets = "^".repeat(width);
                match &self.label {
                    Some(l) => {
                        let _ = writeln!(out, "{pad} | {prefix}{carets} {l}");
                    }
                    None => {
                        let _ = writeln!(out, "{pad} | {prefix}{carets}");
                    }
                }
                if let Some(h) = &self.hint {
                    let _ = writeln!(out, "{pad} = help: {h}");
                }
            }
            _ => {
                if !self.file.as_os_str().is_empty() {
                    let _ = writeln!(out, "  --> {}", self.file.display());
                }
                if let Some(l) = &self.label {
                    let _ = writeln!(out, "   = note: {l}");
                }
                if let Some(h) = &self.hint {
                    let _ = writeln!(out, "   = help: {h}");
                }
            }
        }
        out
    }
}

/// Characters shown each side of the column in a line longer than `2 * AROUND`.
const AROUND: usize = 60;

/// The part of `line` shown for 1-based character column `col`, with `…` where it was cut, and
/// the column within that part.
fn window(line: &str, col: usize) -> (String, usize) {
    let n = line.chars().count();
    if n <= 2 * AROUND {
        return (line.to_string(), col);
    }
    let from = col.saturating_sub(AROUND + 1).min(n);
    let to = (col + AROUND).min(n);
    let mut out: String = line.chars().skip(from).take(to - from).collect();
    let mut at = col - from;
    if from > 0 {
        out.insert(0, '…');
        at += 1;
    }
    if to < n {
        out.push('…');
    }
    (out, at)
}

/// Closest candidate to `word`, if close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Names are short; comparing a huge value against every candidate only costs time.
    if word.len() > 128 {
        return None;
    }
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn a_long_line_is_shown_around_its_column() {
        let line = "x".repeat(10_000) + "HERE" + &"y".repeat(10_000);
        let (shown, col) = window(&line, 10_001);
        assert!(shown.chars().count() <= 2 * super::AROUND + 3, "{shown}");
        assert_eq!(shown.chars().nth(col - 1), Some('H'), "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert_eq!(window("short", 3), ("short".to_string(), 3));
    }
}
