//! The reference check, run on every compile: every ARN, bucket, stream, role, database, table,
//! job or delivery stream that a node's attributes mention must be a node of the graph, an output
//! of one reached along an edge (`graph::refs`), something the stack itself declares as external
//! (a KMS key, a reader principal, an alarm's SNS topic, a permissions boundary), or an entry of
//! [`AWS_OWNED`]. Anything else is a dangling reference: an emulator accepts it, AWS does not (a
//! Glue job whose role ARN names no role can never run), so it is an error before anything is
//! written.

use super::refs::{as_ref, refs_in};
use super::{Graph, Node, NodeKind, ResourceKind as R, StepKind};
use crate::load::Loaded;
use serde_json::Value;
use std::collections::BTreeSet;

/// ARNs that AWS owns and no stack creates: the log groups Glue and Firehose write to, the
/// account's Glue catalog, and the Step Functions integrations the pipeline's tasks use.
/// `{delivery}` must be a delivery stream of the graph.
pub const AWS_OWNED: &[&str] = &[
    "arn:aws:logs:{region}:{account}:log-group:/aws-glue/jobs/output:*",
    "arn:aws:logs:{region}:{account}:log-group:/aws-glue/jobs/error:*",
    "arn:aws:logs:{region}:{account}:log-group:/aws-glue/crawlers:*",
    "arn:aws:logs:{region}:{account}:log-group:/aws/kinesisfirehose/{delivery}:*",
    "arn:aws:glue:{region}:{account}:catalog",
    "arn:aws:iam::aws:policy/*",
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::sns:publish",
];

#[derive(Debug, thiserror::Error)]
#[error(
    "internal error: the resource graph mentions things that do not exist (a dekit bug; please report it):\n{}",
    .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
)]
pub struct Dangling(pub Vec<String>);

/// What the graph defines, by physical identity.
#[derive(Default)]
struct Known {
    buckets: BTreeSet<String>,
    streams: BTreeSet<String>,
    deliveries: BTreeSet<String>,
    roles: BTreeSet<String>,
    databases: BTreeSet<String>,
    /// (database, table): Glue tables, and the tables and views the pipeline's models create.
    tables: BTreeSet<(String, String)>,
    jobs: BTreeSet<String>,
    workgroups: BTreeSet<String>,
    secrets: BTreeSet<String>,
    topics: BTreeSet<String>,
    functions: BTreeSet<String>,
    machines: BTreeSet<String>,
    alarms: BTreeSet<String>,
    security_configurations: BTreeSet<String>,
    /// ARNs the stack declares as living outside it.
    external: BTreeSet<String>,
}

fn name(n: &Node) -> String {
    n.attrs
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn known(graph: &Graph, loaded: &Loaded) -> Known {
    let mut k = Known::default();
    for n in &graph.nodes {
        match n.kind {
            NodeKind::Resource(R::S3Bucket) => {
                k.buckets.insert(name(n));
            }
            NodeKind::Resource(R::KinesisStream) => {
                k.streams.insert(name(n));
            }
            NodeKind::Resource(R::FirehoseDeliveryStream) => {
                k.deliveries.insert(name(n));
            }
            NodeKind::Resource(R::IamRole) => {
                k.roles.insert(name(n));
            }
            NodeKind::Resource(R::GlueDatabase) => {
                k.databases.insert(name(n));
            }
            NodeKind::Resource(R::GlueJob) => {
                k.jobs.insert(name(n));
            }
            NodeKind::Resource(R::AthenaWorkgroup) => {
                k.workgroups.insert(name(n));
            }
            NodeKind::Resource(R::SnsTopic) => {
                k.topics.insert(name(n));
            }
            NodeKind::Resource(R::CloudwatchAlarm) => {
                k.alarms.insert(name(n));
            }
            NodeKind::Resource(R::LambdaFunction) => {
                k.functions.insert(name(n));
            }
            NodeKind::Resource(R::SfnStateMachine) => {
                k.machines.insert(name(n));
            }
            NodeKind::Resource(R::GlueSecurityConfiguration) => {
                k.security_configurations.insert(name(n));
            }
            NodeKind::Resource(R::GlueTable)
            | NodeKind::Step(StepKind::Transform)
            | NodeKind::Step(StepKind::Serve) => {
                let db = n.attrs.get("database").and_then(Value::as_str);
                k.tables
                    .insert((db.unwrap_or_default().to_string(), n.name.clone()));
            }
            _ => {}
        }
    }
    let s = &loaded.stack;
    // Source credentials live in a secret the batch job reads; dekit does not create it yet, so
    // the stack's sources stand for it (the secret's name is `<stack>-<env>/<source>`).
    let prefix = crate::names::Names::new(loaded).prefix().to_string();
    for (src, _) in s.sources.iter() {
        k.secrets.insert(format!("{prefix}/{}", src.value));
    }
    let sec = &s.security;
    // The key as declared, and as the ARN policies and Glue name it (`alias/x` → its ARN).
    let arns = crate::policy::Arns {
        region: loaded.region(),
        account: loaded.account(),
    };
    if let Some(key) = &sec.kms_key {
        k.external.insert(key.value.clone());
        k.external.insert(arns.kms_key(&key.value));
        k.external.extend(arns.kms_grant(&key.value).0);
    }
    k.external
        .extend(sec.permissions_boundary.iter().map(|v| v.value.clone()));
    k.external
        .extend(sec.readers.iter().map(|r| r.principal.value.clone()));
    for (_, a) in s.observe.alarms.iter() {
        k.external.extend(
            a.notify
                .iter()
                .filter(|n| n.value.starts_with("arn:"))
                .map(|n| n.value.clone()),
        );
    }
    k
}

/// Check every node; all problems at once.
pub fn check(graph: &Graph, loaded: &Loaded) -> Result<(), Dangling> {
    let k = known(graph, loaded);
    let (region, account) = (loaded.region(), loaded.account());
    let mut problems = vec![];
    for n in &graph.nodes {
        let mut found = vec![];
        for (key, v) in &n.attrs {
            refs_in(key, v, &mut found);
        }
        for (path, addr, attr) in found {
            let target = graph.get(&addr);
            let ok = target.is_some_and(|t| match t.kind {
                NodeKind::Resource(kind) => {
                    t.attrs.contains_key(&attr)
                        || crate::resources::provider(kind)
                            .outputs()
                            .contains(&attr.as_str())
                }
                NodeKind::Step(_) => t.attrs.contains_key(&attr),
            });
            if !ok {
                problems.push(format!(
                    "{}: `{path}` refers to {addr}.{attr}, which the graph does not have",
                    n.address
                ));
            } else if !n.depends_on.contains(&addr) {
                problems.push(format!(
                    "{}: `{path}` refers to {addr} without an edge to it",
                    n.address
                ));
            }
        }
        for (key, v) in &n.attrs {
            // A source's connection settings name its own database and host, not AWS resources.
            if n.kind == NodeKind::Resource(R::SecretsmanagerSecret) && key == "value_from" {
                continue;
            }
            walk(key, key, v, &mut |path, key, s| {
                // Interpolation must have resolved every `${var...}` and built-in: one left
                // over would reach a bucket name or an IAM ARN as text.
                if let Some(left) = crate::interpolate::unresolved(s) {
                    problems.push(format!(
                        "{}: `{path}` = `{s}`: `{left}` was never resolved",
                        n.address
                    ));
                }
                if let Some(why) = mention(&k, n, key, s, region, account) {
                    problems.push(format!("{}: `{path}` = `{s}`: {why}", n.address));
                }
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Dangling(problems))
    }
}

/// Every string in `v` (references skipped), with its path and the name of its innermost key.
fn walk(path: &str, key: &str, v: &Value, f: &mut dyn FnMut(&str, &str, &str)) {
    if as_ref(v).is_some() {
        return;
    }
    match v {
        Value::String(s) => f(path, key, s),
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                walk(&format!("{path}[{i}]"), key, v, f);
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                walk(&format!("{path}.{k}"), k, v, f);
            }
        }
        _ => {}
    }
}

/// Why the string `s` under `key` of node `n` mentions something that does not exist, if it does.
fn mention(k: &Known, n: &Node, key: &str, s: &str, region: &str, account: &str) -> Option<String> {
    if let Some(arn) = s.strip_prefix("arn:") {
        return arn_problem(k, s, arn, region, account);
    }
    if let Some(rest) = s.strip_prefix("s3://") {
        let bucket = rest.split('/').next().unwrap_or_default();
        return (!k.buckets.contains(bucket)).then(|| format!("no bucket `{bucket}` in the graph"));
    }
    let is = |r: R| n.kind == NodeKind::Resource(r);
    let missing = |what: &str, set: &BTreeSet<String>| {
        (!set.contains(s)).then(|| format!("no {what} `{s}` in the graph"))
    };
    match key {
        "bucket" if is(R::S3Object) => missing("bucket", &k.buckets),
        "database" => missing("Glue database", &k.databases),
        "catalog_target" => {
            let db = n
                .attrs
                .get("database")
                .and_then(Value::as_str)
                .unwrap_or_default();
            (!k.tables.contains(&(db.to_string(), s.to_string())))
                .then(|| format!("no table `{db}.{s}` in the graph"))
        }
        "job" if is(R::GlueTrigger) => missing("Glue job", &k.jobs),
        "security_configuration" => {
            missing("Glue security configuration", &k.security_configurations)
        }
        "StreamName" => missing("Kinesis stream", &k.streams),
        "DeliveryStreamName" => missing("delivery stream", &k.deliveries),
        "stream" if n.kind == NodeKind::Step(StepKind::Ingest) => {
            missing("Kinesis stream", &k.streams)
        }
        _ => None,
    }
}

// Long: one arm per AWS service an ARN may name, each with its own identity check.
fn arn_problem(k: &Known, full: &str, arn: &str, region: &str, account: &str) -> Option<String> {
    if k.external.contains(full) {
        return None;
    }
    let parts: Vec<&str> = arn.splitn(5, ':').collect();
    let [_, service, arn_region, arn_account, resource] = parts[..] else {
        return Some("not a well-formed ARN".into());
    };
    let here = |want_region: bool| -> Option<String> {
        if want_region && arn_region != region {
            return Some(format!(
                "region `{arn_region}` is not the stack's `{region}`"
            ));
        }
        if arn_account != account {
            return Some(format!(
                "account `{arn_account}` is not the stack's `{account}`"
            ));
        }
        None
    };
    let owned = || {
        AWS_OWNED.iter().any(|p| {
            let p = p.replace("{region}", region).replace("{account}", account);
            if let Some((head, tail)) = p.split_once("{delivery}") {
                full.strip_prefix(head)
                    .and_then(|r| r.strip_suffix(tail))
                    .is_some_and(|d| k.deliveries.contains(d))
            } else if let Some(head) = p.strip_suffix('*').filter(|_| p.ends_with("/*")) {
                full.starts_with(head)
            } else {
                full == p
            }
        })
    };
    if owned() {
        return None;
    }
    let missing = |what: &str, name: &str, set: &BTreeSet<String>| {
        (!set.contains(name)).then(|| format!("no {what} `{name}` in the graph"))
    };
    match service {
        "s3" => {
            let bucket = resource.split('/').next().unwrap_or_default();
            missing("bucket", bucket, &k.buckets)
        }
        "kinesis" => here(true).or_else(|| match resource.strip_prefix("stream/") {
            Some(name) => missing("Kinesis stream", name, &k.streams),
            None => Some("not a stream ARN".into()),
        }),
        "firehose" => here(true).or_else(|| match resource.strip_prefix("deliverystream/") {
            Some(name) => missing("delivery stream", name, &k.deliveries),
            None => Some("not a delivery stream ARN".into()),
        }),
        "iam" => here(false).or_else(|| match resource.strip_prefix("role/") {
            Some(name) => missing("IAM role", name, &k.roles),
            None => Some("not a role ARN".into()),
        }),
        "glue" => here(true).or_else(|| {
            if let Some(db) = resource.strip_prefix("database/") {
                missing("Glue database", db, &k.databases)
            } else if let Some(t) = resource.strip_prefix("table/") {
                let (db, table) = t.split_once('/').unwrap_or((t, ""));
                // A model's scratch tables (Athena's CTAS builds `<model>__dekit_<version>`).
                let table = table.strip_suffix("__dekit_*").unwrap_or(table);
                (!k.tables.contains(&(db.to_string(), table.to_string())))
                    .then(|| format!("no table `{db}.{table}` in the graph"))
            } else if let Some(job) = resource.strip_prefix("job/") {
                missing("Glue job", job, &k.jobs)
            } else {
                Some("not a Glue catalog, database, table or job ARN".into())
            }
        }),
        "athena" => here(true).or_else(|| match resource.strip_prefix("workgroup/") {
            Some(name) => missing("Athena workgroup", name, &k.workgroups),
            None => Some("not a workgroup ARN".into()),
        }),
        "secretsmanager" => here(true).or_else(|| {
            let name = resource
                .strip_prefix("secret:")
                .and_then(|r| r.strip_suffix("-*"))
                .unwrap_or(resource);
            missing("source secret", name, &k.secrets)
        }),
        "sns" => here(true).or_else(|| missing("SNS topic", resource, &k.topics)),
        // A pattern over the stack's alarms (a topic policy's source): at least one must match.
        "cloudwatch" => here(true).or_else(|| match resource.strip_prefix("alarm:") {
            Some(p) if p.ends_with('*') => {
                let head = p.trim_end_matches('*');
                (!k.alarms.iter().any(|a| a.starts_with(head)))
                    .then(|| format!("no alarm `{p}` in the graph"))
            }
            Some(name) => missing("alarm", name, &k.alarms),
            None => Some("not an alarm ARN".into()),
        }),
        "kms" => Some("a KMS key the stack does not declare".into()),
        "lambda" => here(true).or_else(|| match resource.strip_prefix("function:") {
            // The function, or any of its versions (`name:*`).
            Some(name) => missing(
                "Lambda function",
                name.strip_suffix(":*").unwrap_or(name),
                &k.functions,
            ),
            None => Some("not a function ARN".into()),
        }),
        "states" => here(true).or_else(|| match resource.strip_prefix("stateMachine:") {
            Some(name) => missing("state machine", name, &k.machines),
            None => Some("not a state machine ARN".into()),
        }),
        "logs" => here(true).or_else(|| log_group_problem(k, resource)),
        other => Some(format!(
            "service `{other}` is not one dekit creates or knows"
        )),
    }
}

/// Why a log group ARN is not one the graph may name: Lambda's group of one of its functions, or
/// Glue's encrypted groups under one of its security configurations.
fn log_group_problem(k: &Known, resource: &str) -> Option<String> {
    // The log group Lambda writes a function's logs to.
    let lambda = resource
        .strip_prefix("log-group:/aws/lambda/")
        .and_then(|r| r.strip_suffix(":*"))
        .is_some_and(|f| k.functions.contains(f));
    (!lambda && !encrypted_glue_logs(k, resource)).then(|| {
        "a log group that is neither AWS-owned, a delivery stream's, a function's, nor a \
         Glue job's or crawler's under the stack's security configuration"
            .into()
    })
}

/// Whether `resource` (`log-group:<group>:*`) is a log group Glue writes to when one of the
/// graph's security configurations encrypts the logs of a run under one of its roles.
fn encrypted_glue_logs(k: &Known, resource: &str) -> bool {
    let Some(group) = resource
        .strip_prefix("log-group:")
        .and_then(|g| g.strip_suffix(":*"))
    else {
        return false;
    };
    k.roles.iter().any(|r| {
        k.security_configurations.iter().any(|c| {
            [false, true].iter().any(|&crawler| {
                crate::names::encrypted_glue_log_groups(r, c, crawler)
                    .iter()
                    .any(|g| g == group)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::graph::refs::reference;

    #[test]
    fn encrypted_glue_log_groups_only_for_a_role_and_configuration_of_the_graph() {
        let mut k = super::Known::default();
        k.roles.insert("s-local-load-job".into());
        k.security_configurations.insert("s-local-glue".into());
        let ok = |g: &str| super::encrypted_glue_logs(&k, &format!("log-group:{g}:*"));
        assert!(ok("/aws-glue/jobs-s-local-load-job-s-local-glue/output"));
        assert!(ok("/aws-glue/jobs-s-local-load-job-s-local-glue/error"));
        assert!(ok("/aws-glue/crawlers-role/s-local-load-job-s-local-glue"));
        assert!(!ok("/aws-glue/jobs-s-local-load-job-s-local-glue/other"));
        assert!(!ok("/aws-glue/jobs-other-role-s-local-glue/output"));
        assert!(!ok("/aws-glue/crawlers-role/s-local-load-job-other"));
    }

    #[test]
    fn a_role_arn_that_names_no_role_is_dangling() {
        let (checked, mut g) = retail();
        let job = g
            .nodes
            .iter_mut()
            .find(|n| n.address.starts_with("glue_job."))
            .expect("retail has a Glue job");
        // The bug this check exists for: an ARN re-derived with the wrong separator.
        job.attrs.insert(
            "role_arn".into(),
            serde_json::json!("arn:aws:iam::000000000000:role/retail-local-shop_tables-job"),
        );
        let e = super::check(&g, &checked.loaded).unwrap_err();
        assert!(
            e.to_string()
                .contains("no IAM role `retail-local-shop_tables-job`"),
            "{e}"
        );
        let job = g
            .nodes
            .iter_mut()
            .find(|n| n.address.starts_with("glue_job."))
            .unwrap();
        job.attrs
            .insert("role_arn".into(), reference("iam_role.nope", "arn"));
        let e = super::check(&g, &checked.loaded).unwrap_err();
        assert!(
            e.to_string()
                .contains("iam_role.nope.arn, which the graph does not have"),
            "{e}"
        );
    }

    fn retail() -> (crate::validate::Checked, crate::graph::Graph) {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks/retail/stack.yaml");
        let Ok((loaded, report)) = crate::load::load_file(&path, None) else {
            panic!("retail loads")
        };
        let (checked, report) = crate::validate::check(loaded, report);
        let checked = checked.unwrap_or_else(|| panic!("{:?}", report.diags));
        let g = crate::graph::compile::compile(&checked).expect("retail compiles");
        (checked, g)
    }
}
