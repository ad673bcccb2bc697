//! What publish takes from the environment: registry credentials (never from flags; the rule is
//! `oci::Credentials::from_lookup`, shared by every phase) and the GitHub run id for the default
//! build id. Read once, at the edge; everything else gets the values.

pub use crate::oci::auth::DEFAULT_USER;
use crate::oci::Credentials;

/// The environment of one publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishEnv {
    pub credentials: Option<Credentials>,
    /// `GITHUB_RUN_ID` and `GITHUB_RUN_ATTEMPT`, under GitHub Actions only.
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
}

impl PublishEnv {
    pub fn from_env() -> PublishEnv {
        PublishEnv::from_lookup(|k| std::env::var(k).ok())
    }

    /// The credentials ([`Credentials::from_lookup`]) and, under GitHub Actions, the run's id.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> PublishEnv {
        let credentials = Credentials::from_lookup(&get);
        let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let actions = var("GITHUB_ACTIONS").as_deref() == Some("true");
        PublishEnv {
            credentials,
            run_id: if actions { var("GITHUB_RUN_ID") } else { None },
            run_attempt: if actions { var("GITHUB_RUN_ATTEMPT") } else { None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> PublishEnv {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        PublishEnv::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn cratemill_variables_win_over_github_ones() {
        let e = env(&[
            ("CRATEMILL_REGISTRY_USER", "u"),
            ("CRATEMILL_REGISTRY_TOKEN", "t"),
            ("GITHUB_ACTOR", "a"),
            ("GITHUB_TOKEN", "g"),
        ]);
        assert_eq!(e.credentials, Some(Credentials { user: "u".into(), token: "t".into() }));
        let e = env(&[("GITHUB_ACTOR", "a"), ("GITHUB_TOKEN", "g")]);
        assert_eq!(e.credentials, Some(Credentials { user: "a".into(), token: "g".into() }));
        let e = env(&[("CRATEMILL_REGISTRY_TOKEN", "t")]);
        assert_eq!(e.credentials.unwrap().user, DEFAULT_USER);
        assert_eq!(env(&[("CRATEMILL_REGISTRY_USER", "u"), ("GITHUB_TOKEN", " ")]).credentials, None);
    }

    #[test]
    fn run_id_only_under_actions() {
        assert_eq!(env(&[("GITHUB_RUN_ID", "9")]).run_id, None);
        let e = env(&[("GITHUB_ACTIONS", "true"), ("GITHUB_RUN_ID", "9"), ("GITHUB_RUN_ATTEMPT", "2")]);
        assert_eq!((e.run_id.as_deref(), e.run_attempt.as_deref()), (Some("9"), Some("2")));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let e = env(&[("CRATEMILL_REGISTRY_TOKEN", "s3cr3t-value")]);
        assert!(!format!("{e:?}").contains("s3cr3t-value"));
    }
}
