//! AWS naming rules, as the services enforce them. Each returns why a name is refused.

pub fn bucket(name: &str) -> Result<(), String> {
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(format!(
            "bucket names are 3 to 63 characters long, this one has {len}"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "bucket names use only lowercase letters, digits, `-` and `.`; found `{c}`"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("bucket names start and end with a letter or digit".into());
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err("bucket names cannot have `..`, `.-` or `-.`".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("bucket names cannot look like an IP address".into());
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(p) {
            return Err(format!("bucket names cannot start with `{p}`"));
        }
    }
    for s in ["-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"] {
        if name.ends_with(s) {
            return Err(format!("bucket names cannot end with `{s}`"));
        }
    }
    if name.contains('.') {
        // Dots break virtual-hosted TLS (the certificate is for *.s3.amazonaws.com).
        return Err(
            "dekit refuses dots in bucket names: they break TLS for virtual-hosted requests".into(),
        );
    }
    Ok(())
}

/// Kinesis data streams and Firehose delivery streams.
pub fn stream(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.len() > max {
        return Err(format!(
            "stream names are 1 to {max} characters long, this one has {}",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        Some(c) => Err(format!(
            "stream names use letters, digits, `_`, `-` and `.`; found `{c}`"
        )),
        None => Ok(()),
    }
}

/// Glue databases and tables, restricted to what Athena can query without quoting.
pub fn glue(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err("Glue names are 1 to 255 characters long".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "Glue names for Athena use only lowercase letters, digits and `_`; found `{c}`"
        ));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("Glue names for Athena start with a letter or `_`".into());
    }
    Ok(())
}

/// IAM roles (64 characters) and the names derived from the stack prefix.
pub fn iam_role(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "IAM role names are 1 to 64 characters long, `{name}` has {}",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        Some(c) => Err(format!("IAM role names cannot contain `{c}`")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        assert!(bucket("dekit-retail-local-lake").is_ok());
        for bad in [
            "ab",
            "Upper-case",
            "-start",
            "end-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "my-s3alias",
            "has_underscore",
            "dot.ted",
        ] {
            assert!(bucket(bad).is_err(), "{bad}");
        }
        assert!(bucket(&"a".repeat(64)).is_err());
    }

    #[test]
    fn other_rules() {
        assert!(stream("retail-local.clicks_1", 128).is_ok());
        assert!(stream("bad name", 128).is_err());
        assert!(stream(&"a".repeat(65), 64).is_err());
        assert!(glue("fact_orders").is_ok());
        assert!(glue("Fact-Orders").is_err());
        assert!(glue("1st").is_err());
        assert!(iam_role("retail-local-clickstream-delivery").is_ok());
        assert!(iam_role(&"r".repeat(65)).is_err());
    }
}
