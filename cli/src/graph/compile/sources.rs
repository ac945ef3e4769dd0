//! `sources:`: one pipeline step per source (what `dekit run` reads from), and for each database
//! source a batch load reads or an export writes to, the Secrets Manager secret its Glue job and
//! the deployed step runtime take the connection from.

use super::{Builder, R, S};
use crate::model::{SourceKind, Target};
use serde_json::json;

pub fn add(b: &mut Builder) {
    for (name, src) in b.s.sources.iter() {
        let mut attrs = json!({ "kind": src.kind.value });
        if !src.tables.is_empty() {
            let tables: Vec<String> = src.tables.iter().map(|t| t.value.clone()).collect();
            attrs["tables"] = json!(tables);
        }
        let mut deps = vec![];
        if let Some(secret) = secret(b, name) {
            deps.push(secret);
        }
        b.step(S::Source, name, attrs, deps);
    }
}

/// The connection secret of database source `name`, when a batch load reads it or an export
/// writes to it (the Glue job and the deployed step runtime connect with it), and the source is
/// not served by the local database servers.
fn secret(b: &mut Builder, name: &str) -> Option<String> {
    let src = b.s.sources.get(name)?;
    let read = b.s.ingest.batch.iter().any(|(_, l)| l.source.value == name);
    let written =
        b.s.serving
            .exports
            .iter()
            .any(|(_, e)| e.to.as_ref().is_some_and(|t| t.value == name));
    if !src.kind.value.is_database() || !(read || written) {
        return None;
    }
    let env = &b.loaded.env;
    if env.target.value == Target::Local && env.local_sources && src.sample.is_some() {
        return None;
    }
    let field = |v: &Option<crate::yaml::Spanned<String>>| {
        v.as_ref().map_or(json!(null), |v| json!(v.value))
    };
    let (engine, port) = match src.kind.value {
        SourceKind::Mysql => ("mysql", 3306),
        _ => ("postgres", 5432),
    };
    let mut attrs = json!({
        "name": secret_name(b, name),
        "description": format!("Connection to source `{name}` for dekit's Glue load jobs"),
        // The settings as written (`${env.NAME}` for secrets): apply resolves them.
        "value_from": {
            "engine": engine,
            "host": field(&src.host),
            "port": src.port.as_ref().map_or(port, |p| p.value),
            "database": src.database.as_ref().map_or_else(|| name.to_string(), |d| d.value.clone()),
            "username": field(&src.user),
            "password": field(&src.password),
        },
    });
    if let Some(k) = b.kms_key() {
        attrs["kms_key"] = json!(k);
    }
    Some(b.resource(R::SecretsmanagerSecret, name, attrs, []))
}

/// `<stack>-<env>/<source>`: the name the load job's policy grants and its arguments pass.
pub fn secret_name(b: &Builder, source: &str) -> String {
    format!("{}/{source}", b.names.prefix())
}
