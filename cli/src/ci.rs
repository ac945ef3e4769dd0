//! `dekit ci init`: CI/CD pipelines for a stack, rendered from `templates/ci/` — GitHub Actions
//! or GitLab CI. Pull requests validate and plan against AWS (only what the branch changes:
//! `plan --since`) and apply, run and test on an ephemeral local cloud; the main branch applies,
//! runs and tests on AWS. dekit is installed from PyPI (`pip install dekit`), pinned to this
//! version, the pip cache kept between runs.

use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    Github,
    Gitlab,
}

#[derive(Debug, Serialize)]
pub struct Options {
    /// The stack file, relative to the repository's root.
    pub stack: String,
    /// The AWS environment pull requests plan against and the main branch deploys.
    pub env: String,
    /// The `local` environment pull requests run on the ephemeral local cloud.
    pub local_env: String,
    pub region: String,
    pub branch: String,
    pub version: String,
}

/// The pipeline file: where it goes in the repository, and its text.
pub fn render(p: Provider, o: &Options) -> (PathBuf, String) {
    match p {
        Provider::Github => (
            PathBuf::from(".github/workflows/dekit.yml"),
            crate::templates::render("ci/github.yml", o),
        ),
        Provider::Gitlab => (
            PathBuf::from(".gitlab-ci.yml"),
            crate::templates::render("ci/gitlab.yml", o),
        ),
    }
}
