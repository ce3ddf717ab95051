//! The validated GSLB part of a configuration (L0): the [`Gslb`] model and the [`Check`] each of
//! its targets runs. `config` builds it; the snapshot carries it, so that everything reading a
//! snapshot (queries, status, admin, probes) sees one consistent setup.
//!
//! Pure data. Imports only L0: the model in `gslb` and the check model in `health::check`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Gslb, Target};
use crate::health::check::Check;

/// The GSLB part of a configuration, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GslbSetup {
    pub gslb: Gslb,
    /// Every configured check by name; shared with the probe tasks that run it.
    pub checks: BTreeMap<String, Arc<Check>>,
}

impl GslbSetup {
    /// The check a target runs.
    pub fn check_of(&self, t: &Target) -> Option<&Arc<Check>> {
        self.checks.get(&t.check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::check::CheckKind;

    #[test]
    fn a_target_finds_its_check_by_name() {
        let web = Check::new("web", CheckKind::Http, 8080);
        let setup = GslbSetup {
            gslb: Gslb::default(),
            checks: BTreeMap::from([("web".to_string(), Arc::new(web.clone()))]),
        };
        let target = |check: &str| Target {
            key: format!("{check}@127.0.0.1"),
            check: check.to_string(),
            addr: Some("127.0.0.1".parse().unwrap()),
        };
        assert_eq!(setup.check_of(&target("web")).map(|c| &**c), Some(&web));
        assert!(setup.check_of(&target("db")).is_none());
    }
}
