//! `iam_role`: one role per component that runs code (Firehose delivery, Glue jobs, crawlers),
//! trusted by that one service in this account, with a generated least-privilege inline policy.
//!
//! Why: shared broad roles are how data leaks; per-component roles name the exact prefixes,
//! stream and tables a component touches. IAM is eventually consistent, so users of a new role
//! retry (see the apply walker).
//!
//! Example: `iam_role.clickstream_delivery` → `retail-local-clickstream-delivery`.

use super::{Attrs, Fut, Provider, absent, decode_policy, s, tag_map, tags};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_iam::types::{Role, Tag};
use serde_json::json;

pub struct IamRole;

const POLICY_NAME: &str = "dekit";

async fn put_policy(c: &Clients, d: &Attrs) -> Result<(), CloudError> {
    let name = s(d, "name");
    c.iam
        .put_role_policy()
        .role_name(name)
        .policy_name(POLICY_NAME)
        .policy_document(d["inline_policy"].to_string())
        .send()
        .await
        .map_err(|e| from_sdk("PutRolePolicy", name, e))?;
    Ok(())
}

/// The role's inline policy (dekit's one), `None` when it has none.
async fn get_policy(
    c: &Clients,
    name: &str,
) -> Result<Option<aws_sdk_iam::operation::get_role_policy::GetRolePolicyOutput>, CloudError> {
    let out = c
        .iam
        .get_role_policy()
        .role_name(name)
        .policy_name(POLICY_NAME)
        .send()
        .await;
    absent(out.map_err(|e| from_sdk("GetRolePolicy", name, e)))
}

fn iam_tags(d: &Attrs) -> Result<Vec<Tag>, CloudError> {
    tags(d)
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| CloudError::new("Build", s(d, "name"), "InvalidInput", e.to_string()))
        })
        .collect()
}

/// Live attributes as `read` and `read_many` both return them, from whichever calls answered.
fn live_role<'a>(
    name: Option<&str>,
    arn: Option<&str>,
    trust: Option<&str>,
    inline: Option<&str>,
    boundary: Option<&str>,
    role_tags: impl Iterator<Item = (&'a str, &'a str)>,
) -> Attrs {
    let mut live = Attrs::new();
    live.insert("name".into(), json!(name));
    live.insert("arn".into(), json!(arn));
    live.insert(
        "assume_role_policy".into(),
        trust.map(decode_policy).unwrap_or_default(),
    );
    live.insert(
        "inline_policy".into(),
        inline.map(decode_policy).unwrap_or_default(),
    );
    if let Some(b) = boundary {
        live.insert("permissions_boundary".into(), json!(b));
    }
    live.insert("tags".into(), tag_map(role_tags));
    live
}

/// Live attributes of a role as GetRole or CreateRole answered it, with its inline policy and
/// tags.
fn live_of_role(role: &Role, inline: Option<&str>, role_tags: &[Tag]) -> Attrs {
    live_role(
        Some(role.role_name()),
        Some(role.arn()),
        role.assume_role_policy_document(),
        inline,
        role.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        role_tags.iter().map(|t| (t.key(), t.value())),
    )
}

fn live_of_detail(r: &aws_sdk_iam::types::RoleDetail) -> Attrs {
    live_role(
        r.role_name(),
        r.arn(),
        r.assume_role_policy_document(),
        r.role_policy_list()
            .iter()
            .find(|p| p.policy_name() == Some(POLICY_NAME))
            .and_then(|p| p.policy_document()),
        r.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        r.tags().iter().map(|t| (t.key(), t.value())),
    )
}

impl Provider for IamRole {
    fn existing<'a>(
        &'a self,
        c: &'a Clients,
        _names: &'a [String],
    ) -> Fut<'a, Option<std::collections::BTreeSet<String>>> {
        Box::pin(async move {
            let mut out = std::collections::BTreeSet::new();
            let mut pages = c.iam.list_roles().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| from_sdk("ListRoles", "", e))?;
                out.extend(page.roles().iter().map(|r| r.role_name().to_string()));
            }
            Ok(Some(out))
        })
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["arn"]
    }
    /// One paginated GetAccountAuthorizationDetails answers for every role with its trust
    /// policy, inline policies, boundary and tags: three calls per role become a few per account.
    fn read_many<'a>(
        &'a self,
        c: &'a Clients,
        desired: &'a [Attrs],
    ) -> Fut<'a, Option<Vec<Option<Attrs>>>> {
        Box::pin(async move {
            let mut roles = std::collections::HashMap::new();
            let mut pages = c
                .iam
                .get_account_authorization_details()
                .filter(aws_sdk_iam::types::EntityType::Role)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| from_sdk("GetAccountAuthorizationDetails", "", e))?;
                for r in page.role_detail_list() {
                    if let Some(name) = r.role_name() {
                        roles.insert(name.to_string(), r.clone());
                    }
                }
            }
            Ok(Some(
                desired
                    .iter()
                    .map(|d| roles.get(s(d, "name")).map(live_of_detail))
                    .collect(),
            ))
        })
    }
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            // The three reads are independent: issue them together.
            let (role, policy, role_tags) = tokio::join!(
                c.iam.get_role().role_name(name).send(),
                get_policy(c, name),
                c.iam.list_role_tags().role_name(name).send(),
            );
            let Some(out) = absent(role.map_err(|e| from_sdk("GetRole", name, e)))? else {
                return Ok(None);
            };
            let Some(role) = out.role() else {
                return Ok(None);
            };
            let policy = policy?;
            let role_tags = role_tags.map_err(|e| from_sdk("ListRoleTags", name, e))?;
            Ok(Some(live_of_role(
                role,
                policy.as_ref().map(|p| p.policy_document()),
                role_tags.tags(),
            )))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            self.create_observed(c, d).await?;
            Ok(())
        })
    }

    /// CreateRole answers with the role as stored (trust policy, boundary, tags): only the
    /// inline policy is read back.
    fn create_observed<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let created = c
                .iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(d["assume_role_policy"].to_string())
                .set_permissions_boundary(
                    d.get("permissions_boundary")
                        .and_then(|b| b.as_str())
                        .map(str::to_string),
                )
                .set_tags(Some(iam_tags(d)?))
                .send()
                .await
                .map_err(|e| from_sdk("CreateRole", name, e))?;
            put_policy(c, d).await?;
            let Some(role) = created.role() else {
                return Ok(None);
            };
            let policy = get_policy(c, name).await?;
            Ok(Some(live_of_role(
                role,
                policy.as_ref().map(|p| p.policy_document()),
                role.tags(),
            )))
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            if live.get("assume_role_policy") != d.get("assume_role_policy") {
                c.iam
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(d["assume_role_policy"].to_string())
                    .send()
                    .await
                    .map_err(|e| from_sdk("UpdateAssumeRolePolicy", name, e))?;
            }
            if live.get("inline_policy") != d.get("inline_policy") {
                put_policy(c, d).await?;
            }
            let extra = super::extra_tags(live, d);
            if !extra.is_empty() {
                c.iam
                    .untag_role()
                    .role_name(name)
                    .set_tag_keys(Some(extra))
                    .send()
                    .await
                    .map_err(|e| from_sdk("UntagRole", name, e))?;
            }
            if live.get("tags") != d.get("tags") {
                c.iam
                    .tag_role()
                    .role_name(name)
                    .set_tags(Some(iam_tags(d)?))
                    .send()
                    .await
                    .map_err(|e| from_sdk("TagRole", name, e))?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            if let Some(p) = absent(
                c.iam
                    .list_role_policies()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("ListRolePolicies", name, e)),
            )? {
                for policy in p.policy_names() {
                    c.iam
                        .delete_role_policy()
                        .role_name(name)
                        .policy_name(policy)
                        .send()
                        .await
                        .map_err(|e| from_sdk("DeleteRolePolicy", name, e))?;
                }
            }
            absent(
                c.iam
                    .delete_role()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteRole", name, e)),
            )?;
            Ok(())
        })
    }
}
