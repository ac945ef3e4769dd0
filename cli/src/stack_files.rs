//! Reading the files a stack names (model SQL, samples): only regular files under the stack
//! file's directory, symlinks resolved, size capped. Stack files come from pull requests anyone may
//! open, so `sql: ../../etc/passwd`, an absolute path, a symlink out of the directory,
//! `/proc/self/environ`, a FIFO (which would block forever) or `/dev/zero` (which never ends) are
//! refused before a byte is read, and nothing of a refused file reaches a diagnostic.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Largest file a stack may name (SQL models are a few KiB).
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Refused {
    #[error("no such file")]
    Missing,
    #[error(
        "it is outside the stack file's directory; paths are relative to it and stay inside it"
    )]
    Outside,
    #[error("it is not a regular file")]
    NotAFile,
    #[error("it is larger than {} MiB", MAX_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("it is not valid UTF-8 text")]
    NotText,
    #[error("{0}")]
    Io(String),
}

/// The path `rel` names under `dir`, if it stays inside `dir` once symlinks are resolved.
pub fn resolve(dir: &Path, rel: &str) -> Result<PathBuf, Refused> {
    let rel_path = Path::new(rel);
    if rel_path.is_absolute()
        || rel_path
            .components()
            .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
    {
        return Err(Refused::Outside);
    }
    let root = dir
        .canonicalize()
        .map_err(|e| Refused::Io(e.kind().to_string()))?;
    let joined = root.join(rel_path);
    let real = match joined.canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A missing file is reported as missing only when its path stays inside.
            let lexical_inside = rel_path.components().all(|c| c != Component::ParentDir);
            return Err(if lexical_inside {
                Refused::Missing
            } else {
                Refused::Outside
            });
        }
        Err(e) => return Err(Refused::Io(e.kind().to_string())),
    };
    if !real.starts_with(&root) {
        return Err(Refused::Outside);
    }
    Ok(real)
}

/// The text of the regular file `rel` names under `dir`.
pub fn read(dir: &Path, rel: &str) -> Result<(PathBuf, String), Refused> {
    let path = resolve(dir, rel)?;
    Ok((path.clone(), read_regular(&path)?))
}

/// A regular file's text, at most `MAX_BYTES`; checked before opening, so a FIFO never blocks.
pub fn read_regular(path: &Path) -> Result<String, Refused> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Refused::Missing,
        k => Refused::Io(k.to_string()),
    })?;
    if !meta.is_file() {
        return Err(Refused::NotAFile);
    }
    if meta.len() > MAX_BYTES {
        return Err(Refused::TooLarge);
    }
    let f = std::fs::File::open(path).map_err(|e| Refused::Io(e.kind().to_string()))?;
    let mut bytes = vec![];
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refused::Io(e.kind().to_string()))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Refused::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| Refused::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_directory() {
        let base = std::env::temp_dir().join(format!("dekit-files-{}", std::process::id()));
        let dir = base.join("stack");
        std::fs::create_dir_all(dir.join("models")).unwrap();
        std::fs::write(dir.join("models/a.sql"), "select 1").unwrap();
        std::fs::write(base.join("secret.txt"), "s3cr3t").unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), dir.join("models/link.sql")).unwrap();
        assert_eq!(read(&dir, "models/a.sql").unwrap().1, "select 1");
        assert_eq!(read(&dir, "models/../models/a.sql").unwrap().1, "select 1");
        assert_eq!(read(&dir, "../secret.txt"), Err(Refused::Outside));
        assert_eq!(read(&dir, "models/link.sql"), Err(Refused::Outside));
        assert_eq!(read(&dir, "/etc/passwd"), Err(Refused::Outside));
        assert_eq!(
            read(&dir, "../../../../proc/self/environ"),
            Err(Refused::Outside)
        );
        assert_eq!(read(&dir, "../nope.sql"), Err(Refused::Outside));
        assert_eq!(read(&dir, "models/nope.sql"), Err(Refused::Missing));
        assert_eq!(read(&dir, "models"), Err(Refused::NotAFile));
        assert_eq!(read_regular(Path::new("/dev/zero")), Err(Refused::NotAFile));
        // A FIFO inside the directory would block a reader forever.
        let fifo = dir.join("models/fifo.sql");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert_eq!(read(&dir, "models/fifo.sql"), Err(Refused::NotAFile));
        }
        std::fs::remove_dir_all(base).unwrap();
    }
}
