//! Stack → resource graph: the concrete AWS resources a checked stack needs, with generated
//! least-privilege roles, plus the pipeline steps (source → ingest → transform → quality → serve).
//!
//! One builder step per stack section, run in order; a step finds the nodes of earlier steps by
//! address and takes what it needs from them (a name, or a reference to an output such as a role's
//! ARN), so every cross-resource value travels along a graph edge. The result is checked by
//! `graph::references` on every compile.

mod alarms;
mod batch;
mod orchestration;
mod pipeline;
mod sources;
mod storage;
mod streams;
pub(crate) mod tables;

use super::refs::reference;
use super::{Graph, Node, NodeKind, ResourceKind as R, StepKind as S};
use crate::hash::sha256;
use crate::load::Loaded;
use crate::model::{Encryption, Stack};
use crate::names::{Names, with_slash};
use crate::policy::{Arns, Policy, trust};
use crate::validate::Checked;
pub use pipeline::glue_script;
use serde_json::{Map, Value, json};

/// Glue version of every generated job (Glue 4.0: Spark 3.3, Python 3.10).
pub const GLUE_VERSION: &str = "4.0";

/// The sections, in order: later ones refer to nodes of earlier ones.
const STEPS: &[fn(&mut Builder)] = &[
    storage::add,
    sources::add,
    streams::add,
    batch::add,
    tables::add,
    pipeline::add,
    alarms::add,
    orchestration::add,
];

pub fn compile(checked: &Checked) -> Result<Graph, super::references::Dangling> {
    let loaded = &checked.loaded;
    let mut b = Builder {
        checked,
        loaded,
        s: &loaded.stack,
        names: Names::new(loaded),
        arns: Arns {
            region: loaded.region(),
            account: loaded.account(),
        },
        nodes: vec![],
    };
    for step in STEPS {
        step(&mut b);
    }
    let graph = Graph {
        stack: b.s.stack.value.clone(),
        environment: loaded.env_name.clone(),
        nodes: b.nodes,
    };
    super::references::check(&graph, loaded)?;
    Ok(graph)
}

pub(crate) struct Builder<'a> {
    checked: &'a Checked,
    loaded: &'a Loaded,
    s: &'a Stack,
    names: Names<'a>,
    arns: Arns<'a>,
    nodes: Vec<Node>,
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("attributes are always objects"),
    }
}

impl<'a> Builder<'a> {
    fn add(
        &mut self,
        kind: NodeKind,
        name: &str,
        attrs: Value,
        deps: impl IntoIterator<Item = String>,
    ) -> String {
        let address = address(kind, name);
        self.nodes.push(Node {
            address: address.clone(),
            kind,
            name: name.to_string(),
            attrs: obj(attrs),
            depends_on: deps.into_iter().collect(),
        });
        address
    }

    fn resource(
        &mut self,
        kind: R,
        name: &str,
        mut attrs: Value,
        deps: impl IntoIterator<Item = String>,
    ) -> String {
        if crate::resources::provider(kind).tagged() {
            attrs["tags"] = self.tags();
        }
        self.add(NodeKind::Resource(kind), name, attrs, deps)
    }

    fn step(
        &mut self,
        kind: S,
        name: &str,
        attrs: Value,
        deps: impl IntoIterator<Item = String>,
    ) -> String {
        self.add(NodeKind::Step(kind), name, attrs, deps)
    }

    fn node(&self, address: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.address == address)
    }

    /// An attribute of an earlier node, taken from it rather than derived again. A node that is
    /// not there yields a reference to it, which the reference check reports as dangling.
    fn attr_of(&self, address: &str, attr: &str) -> Value {
        match self.node(address).and_then(|n| n.attrs.get(attr)) {
            Some(v) => v.clone(),
            None => reference(address, attr),
        }
    }

    /// The physical name of an earlier node.
    fn name_of(&self, address: &str) -> Value {
        self.attr_of(address, "name")
    }

    fn tags(&self) -> Value {
        json!({
            "dekit:managed-by": "dekit",
            "dekit:stack": self.s.stack.value,
            "dekit:environment": self.loaded.env_name,
        })
    }

    fn kms_key(&self) -> Option<String> {
        match self.s.security.encryption.value {
            Encryption::Kms => self.s.security.kms_key.as_ref().map(|k| k.value.clone()),
            Encryption::Aws => None,
        }
    }

    fn encryption(&self) -> Value {
        match self.kms_key() {
            Some(k) => json!({ "algorithm": "aws:kms", "kms_key": k, "bucket_key": true }),
            None => json!({ "algorithm": "AES256" }),
        }
    }

    /// A role for `component` (its `purpose`: job, crawler, delivery), trusted by `service`, with
    /// `policy` inline. Returns its address; users take its ARN with `reference(addr, "arn")`.
    fn role(&mut self, component: &str, purpose: &str, service: &str, policy: Policy) -> String {
        let mut policy = policy;
        if let Some(k) = self.kms_key() {
            let actions = ["kms:Decrypt", "kms:GenerateDataKey"];
            policy = match self.arns.kms_grant(&k) {
                (keys, Some(cond)) => policy.allow_if("UseLakeKey", &actions, keys, cond),
                (keys, None) => policy.allow("UseLakeKey", &actions, keys),
            };
        }
        let mut attrs = json!({
            "name": self.names.role(component, purpose),
            "assume_role_policy": trust(service, self.loaded.account()),
            "inline_policy": policy.build(),
        });
        if let Some(b) = &self.s.security.permissions_boundary {
            attrs["permissions_boundary"] = json!(b.value);
        }
        self.resource(R::IamRole, &format!("{component}_{purpose}"), attrs, [])
    }

    /// The stack's Glue security configuration, added on first use (only stacks with a Glue job
    /// or crawler have one). Returns its address and physical name.
    fn glue_security(&mut self) -> (String, String) {
        let addr = resource_address(R::GlueSecurityConfiguration, "glue");
        let name = self.names.scoped("glue");
        if self.node(&addr).is_none() {
            let key = self.kms_key().map(|k| self.arns.kms_key(&k));
            let mut attrs = json!({
                "name": name,
                "s3_encryption": if key.is_some() { "SSE-KMS" } else { "SSE-S3" },
                // Logs and bookmarks take only a customer key: without one they stay off (Glue
                // jobs here do not use bookmarks; CloudWatch keeps logs encrypted at rest).
                "cloudwatch_encryption": if key.is_some() { "SSE-KMS" } else { "DISABLED" },
                "job_bookmarks_encryption": if key.is_some() { "CSE-KMS" } else { "DISABLED" },
            });
            if let Some(k) = key {
                attrs["kms_key"] = json!(k);
            }
            self.resource(R::GlueSecurityConfiguration, "glue", attrs, []);
        }
        (addr, name)
    }

    /// Where Glue writes the logs of a job or crawler run under `role` with the security
    /// configuration `sc` when it encrypts them: its own log groups, which the role creates and
    /// associates with the key.
    fn encrypted_glue_logs(&self, policy: Policy, role: &str, sc: &str, crawler: bool) -> Policy {
        if self.kms_key().is_none() {
            return policy;
        }
        let groups = crate::names::encrypted_glue_log_groups(role, sc, crawler)
            .iter()
            .map(|g| self.arns.log_group(g))
            .collect();
        policy.allow(
            "EncryptedLogs",
            &[
                "logs:AssociateKmsKey",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            groups,
        )
    }

    /// A Glue job: its rendered script uploaded to the artifacts bucket, its own role (`policy` plus
    /// reading that script and writing Glue's logs), and the job itself. Returns the job's address.
    fn glue_job(
        &mut self,
        name: &str,
        script: String,
        policy: Policy,
        arguments: Value,
        deps: Vec<String>,
    ) -> String {
        let artifacts_addr = address(NodeKind::Resource(R::S3Bucket), "artifacts");
        let artifacts = self.name_of(&artifacts_addr);
        let artifacts = artifacts.as_str().unwrap_or_default().to_string();
        let script_key = format!("glue/{name}.py");
        let script_addr = self.resource(
            R::S3Object,
            &format!("{name}_script"),
            json!({ "bucket": artifacts, "key": script_key, "content_sha256": sha256(&script), "content": script }),
            [artifacts_addr],
        );
        let policy = policy
            .allow(
                "ReadScript",
                &["s3:GetObject"],
                vec![self.arns.object(&artifacts, &script_key)],
            )
            .allow(
                "Logs",
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                vec![
                    self.arns.log_group("/aws-glue/jobs/output"),
                    self.arns.log_group("/aws-glue/jobs/error"),
                ],
            );
        let (sc_addr, sc) = self.glue_security();
        let policy = self.encrypted_glue_logs(policy, &self.names.role(name, "job"), &sc, false);
        let role_addr = self.role(name, "job", "glue.amazonaws.com", policy);
        // dekit keeps load cursors in the lake itself, not in Glue's bookmarks.
        let mut args = json!({
            "--job-language": "python",
            "--job-bookmark-option": "job-bookmark-disable",
        });
        for (k, v) in arguments.as_object().into_iter().flatten() {
            args[k] = v.clone();
        }
        self.resource(
            R::GlueJob,
            name,
            json!({
                "name": self.names.scoped(name),
                "role_arn": reference(&role_addr, "arn"),
                "script_location": format!("s3://{artifacts}/{script_key}"),
                "glue_version": GLUE_VERSION,
                "worker_type": "G.1X",
                "number_of_workers": 2,
                "default_arguments": args,
                "security_configuration": sc,
            }),
            [script_addr, role_addr, sc_addr].into_iter().chain(deps),
        )
    }

    fn lake(&self) -> String {
        self.names.lake_bucket()
    }

    fn database(&self) -> String {
        self.names.database()
    }

    fn zone_location(&self, zone: &str, prefix: &str) -> (String, String) {
        let key = format!("{}{}", self.names.zone_prefix(zone), with_slash(prefix));
        (format!("s3://{}/{key}", self.lake()), key)
    }
}

pub fn address(kind: NodeKind, name: &str) -> String {
    let prefix = match kind {
        NodeKind::Resource(r) => r.as_str(),
        NodeKind::Step(s) => s.as_str(),
    };
    format!("{prefix}.{name}")
}

fn resource_address(kind: R, name: &str) -> String {
    address(NodeKind::Resource(kind), name)
}
