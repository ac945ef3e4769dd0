//! Least-privilege IAM policy documents, generated per component from what it reads and writes.
//!
//! Every statement lists its actions and the exact ARNs (bucket prefixes, one stream, one table);
//! no `*` action and no bare `*` resource is ever produced (`tests` enforce it).

use serde_json::{Value, json};

/// ARNs of the things a component touches, in one partition/region/account.
pub struct Arns<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

impl Arns<'_> {
    pub fn bucket(&self, bucket: &str) -> String {
        format!("arn:aws:s3:::{bucket}")
    }
    pub fn objects(&self, bucket: &str, prefix: &str) -> String {
        format!("arn:aws:s3:::{bucket}/{prefix}*")
    }
    pub fn object(&self, bucket: &str, key: &str) -> String {
        format!("arn:aws:s3:::{bucket}/{key}")
    }
    pub fn stream(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.region, self.account
        )
    }
    pub fn state_machine(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.region, self.account
        )
    }
    pub fn function(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account
        )
    }
    pub fn delivery(&self, name: &str) -> String {
        format!(
            "arn:aws:firehose:{}:{}:deliverystream/{name}",
            self.region, self.account
        )
    }
    pub fn workgroup(&self, name: &str) -> String {
        format!(
            "arn:aws:athena:{}:{}:workgroup/{name}",
            self.region, self.account
        )
    }
    pub fn glue_job(&self, name: &str) -> String {
        format!("arn:aws:glue:{}:{}:job/{name}", self.region, self.account)
    }
    pub fn glue_catalog(&self) -> String {
        format!("arn:aws:glue:{}:{}:catalog", self.region, self.account)
    }
    pub fn glue_database(&self, db: &str) -> String {
        format!(
            "arn:aws:glue:{}:{}:database/{db}",
            self.region, self.account
        )
    }
    pub fn glue_table(&self, db: &str, table: &str) -> String {
        format!(
            "arn:aws:glue:{}:{}:table/{db}/{table}",
            self.region, self.account
        )
    }
    pub fn log_group(&self, group: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{group}:*",
            self.region, self.account
        )
    }
    pub fn role(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role/{name}", self.account)
    }
    /// Resources and condition granting use of the stack's key. IAM matches a key's ARN, never
    /// an alias's: a key named by alias is granted as "any key of this account that has this
    /// alias" (`kms:ResourceAliases`), as AWS documents for alias-based access.
    pub fn kms_grant(&self, key: &str) -> (Vec<String>, Option<Value>) {
        let arn = self.kms_key(key);
        match arn.split_once(":alias/") {
            Some((_, alias)) => (
                vec![format!(
                    "arn:aws:kms:{}:{}:key/*",
                    self.region, self.account
                )],
                Some(
                    json!({ "ForAnyValue:StringEquals": { "kms:ResourceAliases": format!("alias/{alias}") } }),
                ),
            ),
            None => (vec![arn], None),
        }
    }

    pub fn kms_key(&self, key: &str) -> String {
        if key.starts_with("arn:") {
            key.to_string()
        } else {
            format!("arn:aws:kms:{}:{}:{}", self.region, self.account, key)
        }
    }
}

/// A policy document under construction.
#[derive(Default)]
pub struct Policy {
    statements: Vec<Value>,
}

impl Policy {
    pub fn allow(mut self, sid: &str, actions: &[&str], resources: Vec<String>) -> Self {
        self.statements.push(json!({
            "Sid": sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": resources,
        }));
        self
    }

    pub fn allow_if(
        mut self,
        sid: &str,
        actions: &[&str],
        resources: Vec<String>,
        condition: Value,
    ) -> Self {
        self.statements.push(json!({
            "Sid": sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": resources,
            "Condition": condition,
        }));
        self
    }

    pub fn build(self) -> Value {
        json!({ "Version": "2012-10-17", "Statement": self.statements })
    }
}

/// Trust policy letting one AWS service assume a role, limited to this account.
pub fn trust(service: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "aws:SourceAccount": account } },
        }]
    })
}

/// Listing a bucket, limited to some prefixes.
pub fn list_prefixes(prefixes: &[String]) -> Value {
    let p: Vec<String> = prefixes.iter().map(|p| format!("{p}*")).collect();
    json!({ "StringLike": { "s3:prefix": p } })
}

/// A statement's `Action` or `Resource`: one string or a list of them.
pub fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// Actions IAM grants on no resource but `*`.
const RESOURCELESS: &[&str] = &["cloudwatch:PutMetricData"];

/// Why a policy document breaks least privilege, if it does.
pub fn violations(doc: &Value) -> Vec<String> {
    let mut out = vec![];
    for st in doc["Statement"].as_array().into_iter().flatten() {
        if st["Effect"] != "Allow" {
            continue;
        }
        for a in as_list(&st["Action"]) {
            if a == "*" || a.ends_with(":*") {
                out.push(format!("wildcard action `{a}`"));
            }
        }
        // A few actions take no resource at all; `*` is their only form, allowed under a
        // condition that narrows them (PutMetricData to one namespace).
        let resourceless = as_list(&st["Action"])
            .iter()
            .all(|a| RESOURCELESS.contains(&a.as_str()))
            && st.get("Condition").is_some();
        for r in as_list(&st["Resource"]) {
            if r == "*" && !resourceless {
                out.push(format!("wildcard resource in {}", st["Sid"]));
            }
        }
        if st
            .get("Principal")
            .is_some_and(|p| p == "*" || p["AWS"] == "*")
        {
            out.push("public principal".into());
        }
    }
    out
}
