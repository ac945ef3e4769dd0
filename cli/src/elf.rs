//! What a Linux executable needs of the machine it runs on, read from its ELF headers: its
//! architecture and the highest glibc symbol version it links (`GLIBC_2.34`), from the version
//! needs (`.gnu.version_r`) the dynamic loader checks. The step runtime `apply` deploys to Lambda
//! must fit `provided.al2023` (x86_64, glibc 2.34) or it would fail at its first invocation.

/// The highest glibc a function's runtime offers (Amazon Linux 2023).
pub const LAMBDA_GLIBC: (u32, u32) = (2, 34);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// `x86_64`, `aarch64`, or the ELF machine number.
    pub machine: String,
    /// The highest `GLIBC_x.y` it links; `None` for a static binary.
    pub glibc: Option<(u32, u32)>,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    at.checked_add(2)
        .and_then(|end| b.get(at..end))
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| "truncated ELF file".to_string())
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    at.checked_add(4)
        .and_then(|end| b.get(at..end))
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| "truncated ELF file".to_string())
}

fn u64_at(b: &[u8], at: usize) -> Result<usize, String> {
    at.checked_add(8)
        .and_then(|end| b.get(at..end))
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| "truncated ELF file".to_string())
}

fn c_str(b: &[u8], at: usize) -> Result<&str, String> {
    let rest = b.get(at..).ok_or("truncated ELF file")?;
    let end = rest
        .iter()
        .position(|c| *c == 0)
        .ok_or("truncated ELF file")?;
    std::str::from_utf8(&rest[..end]).map_err(|_| "a symbol version is not UTF-8".to_string())
}

/// `a + b`, or an error for offsets past any file (a hostile header must not overflow).
fn add(a: usize, b: usize) -> Result<usize, String> {
    a.checked_add(b)
        .ok_or_else(|| "corrupt ELF offsets".to_string())
}

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

/// The needs of a 64-bit little-endian ELF executable (what Lambda runs).
pub fn needs(b: &[u8]) -> Result<Needs, String> {
    if b.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("not a Linux (ELF) executable".into());
    }
    if b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF executable".into());
    }
    let machine = match u16_at(b, 18)? {
        62 => "x86_64".to_string(),
        183 => "aarch64".to_string(),
        m => format!("ELF machine {m}"),
    };
    let (shoff, shentsize, shnum) = (u64_at(b, 0x28)?, u16_at(b, 0x3a)?, u16_at(b, 0x3c)?);
    let section = |i: usize| -> Result<(u32, usize, usize, u32, u32), String> {
        let h = add(shoff, i * shentsize as usize)?;
        // type, offset, size, link, info
        Ok((
            u32_at(b, add(h, 4)?)?,
            u64_at(b, add(h, 0x18)?)?,
            u64_at(b, add(h, 0x20)?)?,
            u32_at(b, add(h, 0x28)?)?,
            u32_at(b, add(h, 0x2c)?)?,
        ))
    };
    let mut glibc: Option<(u32, u32)> = None;
    for i in 0..shnum as usize {
        let (kind, off, _, link, count) = section(i)?;
        if kind != SHT_GNU_VERNEED {
            continue;
        }
        let strings = section(link as usize)?.1;
        // Verneed entries, each with its Vernaux list: the versions wanted of one library.
        let mut need = off;
        for _ in 0..count {
            let (aux_count, first_aux, next) = (
                u16_at(b, add(need, 2)?)?,
                u32_at(b, add(need, 8)?)?,
                u32_at(b, add(need, 12)?)?,
            );
            let mut aux = add(need, first_aux as usize)?;
            for _ in 0..aux_count {
                let name = c_str(b, add(strings, u32_at(b, add(aux, 8)?)? as usize)?)?;
                if let Some(v) = name.strip_prefix("GLIBC_") {
                    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                    glibc = glibc.max(Some(version));
                }
                let next_aux = u32_at(b, add(aux, 12)?)?;
                if next_aux == 0 {
                    break;
                }
                aux = add(aux, next_aux as usize)?;
            }
            if next == 0 {
                break;
            }
            need = add(need, next as usize)?;
        }
    }
    Ok(Needs { machine, glibc })
}

/// Whether `binary` can be a Lambda function's `bootstrap` on x86_64 `provided.al2023`; the
/// error says why not and how to get one that can.
pub fn check_for_lambda(path: &str, bytes: &[u8]) -> Result<(), String> {
    let fix = "deploy a portable build (the `pip install dekit` wheel is built for manylinux_2_28: `ci/dist.sh`), or point DEKIT_LAMBDA_BINARY at one";
    let n = needs(bytes).map_err(|e| format!("{path}: {e}; Lambda runs Linux x86_64: {fix}"))?;
    if n.machine != "x86_64" {
        return Err(format!(
            "{path} is built for {}, and the step runtime's function runs on x86_64: {fix}",
            n.machine
        ));
    }
    match n.glibc {
        Some((maj, min)) if (maj, min) > LAMBDA_GLIBC => Err(format!(
            "{path} needs GLIBC_{maj}.{min}, and Lambda's provided.al2023 has glibc {}.{}: the function would fail at its first invocation; {fix}",
            LAMBDA_GLIBC.0, LAMBDA_GLIBC.1
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_test_binary_and_refuses_what_is_not_elf() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let n = needs(&me).unwrap();
        assert_eq!(n.machine, std::env::consts::ARCH);
        assert!(n.glibc.is_some_and(|v| v >= (2, 2)), "{n:?}");
        assert!(needs(b"#!/bin/sh\n").is_err());
        assert!(needs(&me[..100]).is_err());
        let script = check_for_lambda("bootstrap.sh", b"#!/bin/sh\n").unwrap_err();
        assert!(script.contains("not a Linux (ELF) executable"), "{script}");
    }
}
