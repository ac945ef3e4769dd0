//! `dekit init`: a new stack from one of the templates in `templates/init/`, each a stack that
//! validates, applies, runs and tests green on the local cloud as written, with sample data.
//! Files ending in `.hbs` are rendered (handlebars, see `crate::templates`); the rest (SQL,
//! sample data) are copied as they are.

use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// A PostgreSQL or MySQL database batch-loaded into the lake and modelled into a star schema.
    Warehouse,
    /// App events through Kinesis and Firehose into the lake, modelled per day.
    Clickstream,
    /// CSV and JSON-lines files (or an HTTP API) loaded with declared types, modelled per day.
    Files,
}

impl Template {
    pub const ALL: [Template; 3] = [Template::Warehouse, Template::Clickstream, Template::Files];

    pub fn as_str(self) -> &'static str {
        match self {
            Template::Warehouse => "warehouse",
            Template::Clickstream => "clickstream",
            Template::Files => "files",
        }
    }

    /// One line for the interactive choice.
    pub fn summary(self) -> &'static str {
        match self {
            Template::Warehouse => "a PostgreSQL or MySQL database to a star schema in the lake",
            Template::Clickstream => "app events through Kinesis and Firehose to daily models",
            Template::Files => "CSV and JSON-lines files (or an HTTP API) to the lake",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Database {
    Postgres,
    Mysql,
}

/// What a template is rendered with.
#[derive(Debug, Clone)]
pub struct Options {
    pub template: Template,
    /// The stack's name (rule E100).
    pub name: String,
    /// The warehouse template's source database.
    pub database: Database,
}

#[derive(Serialize)]
struct Vars<'a> {
    name: &'a str,
    /// The name as Glue and Athena accept it (no `-`).
    glue_name: String,
    db_kind: &'static str,
    db_label: &'static str,
    db_port: u16,
}

/// Each template's files: (template, path in the new stack, text). `.hbs` files are rendered
/// under their name without the suffix.
macro_rules! file {
    ($t:literal, $p:literal) => {
        (
            $t,
            $p,
            include_str!(concat!("../../templates/init/", $t, "/", $p)),
        )
    };
}

const FILES: &[(&str, &str, &str)] = &[
    file!("warehouse", "stack.yaml.hbs"),
    file!("warehouse", "README.md.hbs"),
    file!("warehouse", "models/dim_customers.sql"),
    file!("warehouse", "models/dim_products.sql"),
    file!("warehouse", "models/fact_sales.sql"),
    file!("warehouse", "models/serving/revenue_by_month.sql"),
    file!("warehouse", "data/shop/customers.csv"),
    file!("warehouse", "data/shop/products.csv"),
    file!("warehouse", "data/shop/orders.csv"),
    file!("clickstream", "stack.yaml.hbs"),
    file!("clickstream", "README.md.hbs"),
    file!("clickstream", "models/page_views_daily.sql"),
    file!("clickstream", "models/active_users_daily.sql"),
    file!("clickstream", "models/serving/top_pages.sql"),
    file!("clickstream", "data/events.jsonl"),
    file!("files", "stack.yaml.hbs"),
    file!("files", "README.md.hbs"),
    file!("files", "models/daily_readings.sql"),
    file!("files", "models/serving/coldest_days.sql"),
    file!("files", "data/stations/stations.csv"),
    file!("files", "data/readings/readings.jsonl"),
];

/// The local state and run files stay out of git.
const GITIGNORE: &str = ".dekit/\n";

/// The stack name rule (E100), checked before anything is written so the error names the flag.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 24
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a stack name: lowercase letters, digits and `-`, starting with a letter, at most 24 characters (pass --name)"
        ))
    }
}

/// A stack name from a directory's name, when it is one (`My_Shop` → `my-shop`).
pub fn name_from_dir(dir: &Path) -> Option<String> {
    let abs = std::path::absolute(dir).ok()?;
    let base = abs
        .file_name()?
        .to_string_lossy()
        .to_lowercase()
        .replace('_', "-");
    check_name(&base).ok().map(|()| base)
}

/// The files of the new stack: relative path and content.
pub fn render(o: &Options) -> Vec<(PathBuf, String)> {
    let (db_kind, db_label, db_port) = match o.database {
        Database::Postgres => ("postgres", "PostgreSQL", 5432),
        Database::Mysql => ("mysql", "MySQL", 3306),
    };
    let vars = Vars {
        name: &o.name,
        glue_name: o.name.replace('-', "_"),
        db_kind,
        db_label,
        db_port,
    };
    let t = o.template.as_str();
    let mut out: Vec<(PathBuf, String)> = FILES
        .iter()
        .filter(|(template, _, _)| *template == t)
        .map(|(_, path, text)| match path.strip_suffix(".hbs") {
            Some(plain) => (
                PathBuf::from(plain),
                crate::templates::render_text(&format!("init/{t}/{path}"), text, &vars),
            ),
            None => (PathBuf::from(path), (*text).to_string()),
        })
        .collect();
    out.push((PathBuf::from(".gitignore"), GITIGNORE.into()));
    out
}

/// Write the files under `dir`, refusing when any of them exists: nothing is overwritten, and
/// nothing is written unless all can be.
pub fn write(dir: &Path, files: &[(PathBuf, String)]) -> Result<(), String> {
    let existing: Vec<String> = files
        .iter()
        .map(|(p, _)| dir.join(p))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(format!(
            "{} already exist{}: dekit init does not overwrite files; choose an empty directory",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" }
        ));
    }
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_a_stack_and_a_readme() {
        for t in Template::ALL {
            let files = render(&Options {
                template: t,
                name: "shop-1".into(),
                database: Database::Postgres,
            });
            let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
            assert!(
                names.contains(&"stack.yaml".to_string()),
                "{t:?}: {names:?}"
            );
            assert!(names.contains(&"README.md".to_string()), "{t:?}: {names:?}");
            let stack = &files
                .iter()
                .find(|(p, _)| p == Path::new("stack.yaml"))
                .unwrap()
                .1;
            assert!(stack.contains("stack: shop-1\n"), "{stack}");
            assert!(stack.contains("database: shop_1_${environment}"), "{stack}");
        }
    }

    #[test]
    fn names_follow_the_stack_name_rule() {
        assert!(check_name("my-shop").is_ok());
        for bad in ["", "My", "1shop", "a_b", "abcdefghijklmnopqrstuvwxy"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            name_from_dir(Path::new("/tmp/My_Shop")).as_deref(),
            Some("my-shop")
        );
        assert_eq!(name_from_dir(Path::new("/tmp/9lives")), None);
    }
}
