//! What the tests against the simulator share, over TCP (`against_sim.rs`) and over SOAP
//! (`soap.rs`, `soap_trace.rs`): the group, a simulator, and the simulator's own record of what is in effect.

use bwreset_backend::{Credential, GroupScope};
use odin_sim::{SimConfig, SimHandle};

/// The simulator's default group.
pub(crate) const GROUP: GroupScope<'static> = GroupScope {
    service_provider_id: "demo-sp",
    group_id: "demo-group",
};

pub(crate) async fn simulator(config: SimConfig) -> SimHandle {
    odin_sim::spawn(config).await.expect("the simulator starts")
}

/// The user's value of `credential` as the simulator holds it.
pub(crate) fn in_effect(
    simulator: &SimHandle,
    user: &str,
    credential: Credential,
) -> Option<String> {
    let credentials = simulator.credentials(user).expect("user");
    match credential {
        Credential::SipPassword => credentials.sip_password,
        Credential::PortalPasscode => credentials.portal_passcode,
        Credential::WebPassword => credentials.web_password,
    }
}

/// Every user of the simulator, sorted.
pub(crate) fn user_ids(simulator: &SimHandle) -> Vec<String> {
    let mut ids: Vec<String> = simulator
        .all_credentials()
        .into_iter()
        .map(|credentials| credentials.user_id)
        .collect();
    ids.sort();
    ids
}
