//! A stack file's text with the line index used to turn byte offsets into line:column positions.

use std::path::{Path, PathBuf};

/// A region of a source file. Lines and columns are 1-based, columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, serde::Serialize)]
pub struct Span {
    pub line: u32,
    pub col: u32,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Length in bytes (at least 1 when rendered).
    pub len: usize,
}

impl Span {
    /// A span `offset` bytes into this one, `len` bytes long; used to point inside a scalar.
    pub fn sub(&self, src: &SourceFile, offset: usize, len: usize) -> Span {
        src.span_at(self.start + offset, len)
    }
}

/// A file loaded into memory, with the byte offset of every line start.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        // Lines end at `\n`, `\r\n`, or a lone `\r` (old Mac files), as YAML counts them.
        let mut line_starts = vec![0];
        let b = text.as_bytes();
        for (i, c) in b.iter().enumerate() {
            if *c == b'\n' || (*c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
                line_starts.push(i + 1);
            }
        }
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    pub fn read(path: &Path) -> std::io::Result<Self> {
        use std::io::Read;
        // Only regular files, and not without end: `dekit validate /dev/zero` or a FIFO must not hang.
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        const MAX: u64 = 64 * 1024 * 1024;
        let mut bytes = vec![];
        std::fs::File::open(path)?
            .take(MAX + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "larger than 64 MiB",
            ));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
            )
        })?;
        // A UTF-8 byte-order mark is not part of the first key.
        let text = text
            .strip_prefix('\u{feff}')
            .map(str::to_string)
            .unwrap_or(text);
        Ok(Self::new(path, text))
    }

    /// Directory the file lives in: SQL and sample paths in a stack are relative to it.
    /// The stack file's directory; `.` for a bare file name (`dekit plan stack.yaml`), since an
    /// empty path resolves to nothing.
    pub fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// How many lines the text has.
    pub fn line_count(&self) -> u32 {
        self.line_starts.len() as u32
    }

    /// Text of 1-based line `line`, without its newline.
    pub fn line_text(&self, line: u32) -> &str {
        let i = (line as usize)
            .saturating_sub(1)
            .min(self.line_starts.len() - 1);
        let start = self.line_starts[i];
        let end = self
            .line_starts
            .get(i + 1)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        self.text[start..end.max(start)].trim_end_matches('\r')
    }

    /// Byte offset of a 1-based line and character column.
    pub fn offset_of(&self, line: u32, col: u32) -> usize {
        let i = (line as usize)
            .saturating_sub(1)
            .min(self.line_starts.len() - 1);
        let start = self.line_starts[i];
        let text = self.line_text(line);
        start
            + text
                .char_indices()
                .nth((col as usize).saturating_sub(1))
                .map(|(b, _)| b)
                .unwrap_or(text.len())
    }

    /// The span of `len` bytes starting at byte `offset`.
    pub fn span_at(&self, offset: usize, len: usize) -> Span {
        let offset = offset.min(self.text.len());
        let i = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[i];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        Span {
            line: i as u32 + 1,
            col: col as u32,
            start: offset,
            len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SourceFile;

    #[test]
    fn lines_end_at_lf_crlf_and_lone_cr() {
        for text in ["a\nb\nc: x", "a\r\nb\r\nc: x", "a\rb\rc: x"] {
            let f = SourceFile::new("s.yaml", text);
            let at = text.find("x").unwrap();
            let sp = f.span_at(at, 1);
            assert_eq!((sp.line, sp.col), (3, 4), "{text:?}");
            assert_eq!(f.line_text(3), "c: x");
            assert_eq!(f.line_text(1), "a");
        }
    }
}
