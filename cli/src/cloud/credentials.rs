//! Why the credentials for an `aws` environment did not work, said as the cause and the next
//! command to run, instead of the SDK's provider chain.
//!
//! Why: `GetCallerIdentity credentials: ConnectionFailed: ... failed to load IMDS session token`
//! names none of what the user controls. The causes a data engineer meets are few: the profile
//! the stack names is not set up on this machine, its SSO session expired, there are no
//! credentials at all, or AWS cannot be reached; each has one fix.

use crate::cloud::CloudError;
use crate::settings::Settings;

/// The profile whose credentials were asked for: the environment's `profile:`, which dekit
/// names to the SDK's loader (so it wins, as in Terraform's provider), else `AWS_PROFILE`.
pub fn chosen<'a>(stack_profile: Option<&'a str>, settings: &'a Settings) -> Option<&'a str> {
    stack_profile.or(settings.aws_profile.as_deref())
}

/// Whether `profile` is defined in the AWS CLI's config (`[profile NAME]`, `[NAME]` for
/// `default`) or credentials file (`[NAME]`).
pub fn configured(profile: &str, settings: &Settings) -> bool {
    let has = |path: &std::path::Path, headers: &[String]| {
        std::fs::read_to_string(path).is_ok_and(|text| {
            text.lines()
                .map(|l| l.trim().replace(' ', ""))
                .any(|l| headers.contains(&l))
        })
    };
    let compact = profile.replace(' ', "");
    has(
        &settings.aws_config_file,
        &[format!("[profile{compact}]"), format!("[{compact}]")],
    ) || has(&settings.aws_credentials_file, &[format!("[{compact}]")])
}

/// The explanation for a failed identity check of environment `env` (whose stack names
/// `stack_profile`), or the error as it was when it is none of the known causes.
pub fn explain(
    e: &CloudError,
    env: &str,
    stack_profile: Option<&str>,
    settings: &Settings,
) -> String {
    let m = e.message.to_lowercase();
    let profile = chosen(stack_profile, settings);
    let whose = match stack_profile {
        Some(_) => format!("environment `{env}` names"),
        None => "AWS_PROFILE names".to_string(),
    };
    if let Some(p) = profile
        && !configured(p, settings)
    {
        return format!(
            "the AWS profile `{p}` that {whose} is not configured on this machine (not in {} or {}).\n  Set it up with `aws configure sso --profile {p}` (or `aws configure --profile {p}` for access keys), or set AWS_PROFILE to a profile you have. In CI, give the job credentials of its own (an OIDC role) and leave `profile:` to laptops.",
            settings.aws_config_file.display(),
            settings.aws_credentials_file.display()
        );
    }
    if m.contains("sso") && (m.contains("expired") || m.contains("token") || m.contains("cache")) {
        let p = profile.unwrap_or("default");
        return format!(
            "the SSO session of AWS profile `{p}` has expired or was never started.\n  Sign in with `aws sso login --profile {p}`, then run this again."
        );
    }
    if m.contains("expired") {
        let p = profile.unwrap_or("default");
        return format!(
            "the credentials of AWS profile `{p}` have expired.\n  Renew them (`aws sso login --profile {p}`, or new keys with `aws configure --profile {p}`), then run this again."
        );
    }
    if m.contains("no credentials") || m.contains("no providers in chain") {
        return format!(
            "no AWS credentials were found for environment `{env}`.\n  Give it a profile (`profile:` in the environment, after `aws configure sso --profile NAME`), set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        );
    }
    if e.code == "ConnectionFailed" || e.code == "Timeout" {
        return format!(
            "AWS cannot be reached to check the credentials of environment `{env}` ({}).\n  Check the network and any proxy (HTTPS_PROXY), or AWS_ENDPOINT_URL if one is set, then run this again.",
            e.message
        );
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path, profile: Option<&str>) -> Settings {
        let mut s = Settings::from(|_| None);
        s.aws_config_file = dir.join("config");
        s.aws_credentials_file = dir.join("credentials");
        s.aws_profile = profile.map(str::to_string);
        s
    }

    #[test]
    fn each_cause_names_its_fix() {
        let dir = std::env::temp_dir().join(format!("dekit-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config"),
            "[profile retail-prod]\nsso_session = x\n",
        )
        .unwrap();
        std::fs::write(dir.join("credentials"), "[ci]\naws_access_key_id = a\n").unwrap();
        let err =
            |code: &str, m: &str| CloudError::new("GetCallerIdentity", "credentials", code, m);
        let s = settings(&dir, None);
        assert!(configured("retail-prod", &s) && configured("ci", &s));
        assert!(!configured("retail-dev", &s));
        let said = explain(
            &err("ConnectionFailed", "other"),
            "dev",
            Some("retail-dev"),
            &s,
        );
        assert!(
            said.contains("`retail-dev` that environment `dev` names is not configured")
                && said.contains("aws configure sso --profile retail-dev"),
            "{said}"
        );
        let said = explain(
            &err("ConnectionFailed", "the SSO token has expired"),
            "prod",
            Some("retail-prod"),
            &s,
        );
        assert!(
            said.contains("aws sso login --profile retail-prod"),
            "{said}"
        );
        let said = explain(
            &err("ConnectionFailed", "no credentials found in chain"),
            "prod",
            None,
            &s,
        );
        assert!(said.contains("no AWS credentials were found"), "{said}");
        let said = explain(
            &err("ConnectionFailed", "dispatch failure"),
            "prod",
            Some("ci"),
            &s,
        );
        assert!(said.contains("AWS cannot be reached"), "{said}");
        // The environment's profile wins over AWS_PROFILE; without one, AWS_PROFILE counts.
        let s = settings(&dir, Some("nope"));
        let said = explain(&err("ConnectionFailed", "x"), "dev", Some("retail-dev"), &s);
        assert!(
            said.contains("`retail-dev` that environment `dev` names"),
            "{said}"
        );
        let said = explain(&err("ConnectionFailed", "x"), "prod", None, &s);
        assert!(said.contains("`nope` that AWS_PROFILE names"), "{said}");
        let said = explain(
            &err("AccessDenied", "denied"),
            "prod",
            Some("retail-prod"),
            &settings(&dir, None),
        );
        assert!(said.contains("denied"), "{said}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
