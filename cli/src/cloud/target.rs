//! Where API calls go: an AWS account through the standard credential chain, or the local cloud.
//! Only this module and `clients` know about endpoints.

use crate::load::Loaded;
use crate::model::{LocalEngine, Target as Kind};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The local cloud (MiniStack, or LocalStack and moto for the services it lacks), with fixed
    /// test credentials.
    Local {
        region: String,
        endpoint: String,
        /// Per-service endpoints, e.g. `glue` → moto.
        overrides: BTreeMap<String, String>,
        engine: LocalEngine,
        /// Whether the environment pins the engine (else whichever runs is used).
        pinned: bool,
    },
    /// AWS: credentials from env vars, profiles, SSO or instance roles; optional VPC endpoints.
    Aws {
        region: String,
        profile: Option<String>,
        account: Option<String>,
        overrides: BTreeMap<String, String>,
    },
}

impl Target {
    /// The default local cloud on loopback for `engine` (ports from `DEKIT_LOCAL_PORT` /
    /// `DEKIT_MOTO_PORT`).
    pub fn local(engine: LocalEngine) -> Target {
        let set = crate::settings::get();
        let main = set.local_port;
        let moto = format!("http://127.0.0.1:{}", set.moto_port);
        Target::Local {
            region: "us-east-1".into(),
            endpoint: format!("http://127.0.0.1:{main}"),
            overrides: engine
                .moto_services()
                .iter()
                .map(|s| (s.to_string(), moto.clone()))
                .collect(),
            engine,
            pinned: false,
        }
    }

    /// The local cloud with the engine `DEKIT_LOCAL_ENGINE` names (default MiniStack); see
    /// `local::detect` for the one that runs.
    pub fn local_default() -> Target {
        let engine = match crate::settings::get().local_engine.as_deref() {
            Some("localstack") => LocalEngine::Localstack,
            _ => LocalEngine::Ministack,
        };
        Target::local(engine)
    }

    pub fn from_env(loaded: &Loaded) -> Target {
        let env = &loaded.env;
        let overrides: BTreeMap<String, String> = env
            .endpoints
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect();
        match env.target.value {
            Kind::Local => {
                let Target::Local {
                    endpoint,
                    overrides: defaults,
                    ..
                } = Target::local(loaded.engine)
                else {
                    unreachable!()
                };
                let mut all = defaults;
                all.extend(overrides);
                Target::Local {
                    region: loaded.region().to_string(),
                    endpoint: env.endpoint.as_ref().map_or(endpoint, |e| e.value.clone()),
                    overrides: all,
                    engine: loaded.engine,
                    pinned: env.engine.is_some(),
                }
            }
            Kind::Aws => Target::Aws {
                region: loaded.region().to_string(),
                profile: env.profile.as_ref().map(|p| p.value.clone()),
                account: env.account.as_ref().map(|a| a.value.clone()),
                overrides,
            },
        }
    }

    pub fn region(&self) -> &str {
        match self {
            Target::Local { region, .. } | Target::Aws { region, .. } => region,
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Target::Local { .. })
    }

    /// The endpoint a service's calls go to (`None`: the SDK's regional AWS endpoint).
    pub fn endpoint(&self, service: &str) -> Option<&str> {
        match self {
            Target::Local {
                endpoint,
                overrides,
                ..
            } => Some(overrides.get(service).unwrap_or(endpoint)),
            Target::Aws { overrides, .. } => overrides.get(service).map(String::as_str),
        }
    }
}
