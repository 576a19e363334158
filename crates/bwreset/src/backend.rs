//! The backend a run uses, chosen by the server URL ([`protocol_of`]): Odin
//! (`https://.../api/v2`) or OCI-P (`ocips://`, `ocip://`, or over SOAP,
//! `https://.../webservice/services/ProvisioningService`; `--protocol` for a front end that
//! rewrites the path). One enum, delegating, so that reset, resume and the demo stay one code
//! path whichever server they talk to, the device follow-up included.

use bwreset_backend::{DeviceFacts, UserDevice, UserIdList, UserRegistrations};
use bwreset_core::{
    Backend, BackendError, Credential, DeviceBackend, DeviceId, GroupScope, UserFacts,
};
use ocip_client::OcipClient;
use odin_client::OdinClient;
use secrecy::SecretString;

/// The protocol a server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Odin,
    /// OCI-P over TCP or TLS (`ocip://`, `ocips://`).
    Ocip,
    /// OCI-P over SOAP (`http(s)://`).
    OcipSoap,
}

/// What the server URL speaks: its scheme (`ocip(s)://` is OCI-P), then `--protocol`, then its
/// path (`/webservice/services/ProvisioningService` is OCI-P over SOAP, any other is Odin).
pub(crate) fn protocol_of(settings: &crate::settings::ConnectionSettings) -> Protocol {
    use crate::cli::ProtocolArg;
    if ocip_client::is_ocip_url(&settings.base_url) {
        return Protocol::Ocip;
    }
    match settings.protocol {
        Some(ProtocolArg::Odin) => Protocol::Odin,
        Some(ProtocolArg::OcipSoap) => Protocol::OcipSoap,
        None if ocip_client::is_soap_url(&settings.base_url) => Protocol::OcipSoap,
        None => Protocol::Odin,
    }
}

/// Whether the run speaks OCI-P (over TCP or SOAP): the OCI-P client and its tuning.
pub(crate) fn speaks_ocip(settings: &crate::settings::ConnectionSettings) -> bool {
    protocol_of(settings) != Protocol::Odin
}

/// Whether the run speaks OCI-P over SOAP.
pub(crate) fn speaks_ocip_over_soap(settings: &crate::settings::ConnectionSettings) -> bool {
    protocol_of(settings) == Protocol::OcipSoap
}

/// The client a run talks through.
#[derive(Clone, Debug)]
pub enum AnyBackend {
    Odin(OdinClient),
    Ocip(OcipClient),
}

impl AnyBackend {
    /// Ends the session(s); a failure here changes nothing.
    pub async fn log_out(&self) {
        match self {
            AnyBackend::Odin(client) => {
                if let Err(error) = client.logout().await {
                    tracing::debug!(%error, "logout failed");
                }
            }
            AnyBackend::Ocip(client) => client.logout().await,
        }
    }

    /// Logs out while `work` runs, and returns its output. Odin's logout is waited for: it
    /// revokes the token, which would otherwise outlive the connection; so is OCI-P's over SOAP,
    /// whose sessions the server keeps under their cookies. Over TCP OCI-P's login lives on the
    /// connection, so once the `LogoutRequest`s are sent its answers are read only while `work`
    /// lasts; closing the connections ends the session either way.
    pub(crate) async fn log_out_during<T>(&self, work: impl Future<Output = T>) -> T {
        match self {
            AnyBackend::Odin(_) => {
                let (_, output) = tokio::join!(self.log_out(), work);
                output
            }
            AnyBackend::Ocip(client) => {
                let answers = client.send_logout().await;
                if answers.must_be_waited_for() {
                    // Over SOAP the sessions outlive the connections: both are waited for.
                    let (_, output) = tokio::join!(answers.wait(), work);
                    return output;
                }
                let answered = answers.wait();
                tokio::pin!(work, answered);
                tokio::select! {
                    output = &mut work => output,
                    () = &mut answered => work.await,
                }
            }
        }
    }
}

impl Backend for AnyBackend {
    fn server(&self) -> &str {
        match self {
            AnyBackend::Odin(client) => Backend::server(client),
            AnyBackend::Ocip(client) => Backend::server(client),
        }
    }

    async fn group_user_ids(&self, group: GroupScope<'_>) -> Result<UserIdList, BackendError> {
        match self {
            AnyBackend::Odin(client) => Backend::group_user_ids(client, group).await,
            AnyBackend::Ocip(client) => Backend::group_user_ids(client, group).await,
        }
    }

    async fn service_provider_groups(
        &self,
        service_provider_id: &str,
    ) -> Result<Vec<String>, BackendError> {
        match self {
            AnyBackend::Odin(client) => {
                Backend::service_provider_groups(client, service_provider_id).await
            }
            AnyBackend::Ocip(client) => {
                Backend::service_provider_groups(client, service_provider_id).await
            }
        }
    }

    async fn check_user(
        &self,
        user_id: &str,
        credential: Credential,
    ) -> Result<UserFacts, BackendError> {
        match self {
            AnyBackend::Odin(client) => Backend::check_user(client, user_id, credential).await,
            AnyBackend::Ocip(client) => Backend::check_user(client, user_id, credential).await,
        }
    }

    async fn generate(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        count: usize,
    ) -> Result<Vec<SecretString>, BackendError> {
        match self {
            AnyBackend::Odin(client) => Backend::generate(client, credential, group, count).await,
            AnyBackend::Ocip(client) => Backend::generate(client, credential, group, count).await,
        }
    }

    fn generates_per_user(&self, credential: Credential) -> bool {
        match self {
            AnyBackend::Odin(client) => Backend::generates_per_user(client, credential),
            AnyBackend::Ocip(client) => Backend::generates_per_user(client, credential),
        }
    }

    async fn generate_for(
        &self,
        credential: Credential,
        group: GroupScope<'_>,
        user_id: &str,
    ) -> Result<Option<SecretString>, BackendError> {
        match self {
            AnyBackend::Odin(client) => {
                Backend::generate_for(client, credential, group, user_id).await
            }
            AnyBackend::Ocip(client) => {
                Backend::generate_for(client, credential, group, user_id).await
            }
        }
    }

    async fn set(
        &self,
        credential: Credential,
        user_id: &str,
        value: &SecretString,
    ) -> Result<(), BackendError> {
        match self {
            AnyBackend::Odin(client) => Backend::set(client, credential, user_id, value).await,
            AnyBackend::Ocip(client) => Backend::set(client, credential, user_id, value).await,
        }
    }

    async fn set_sip_credentials(
        &self,
        user_id: &str,
        user_name: Option<&str>,
        password: &SecretString,
    ) -> Result<(), BackendError> {
        match self {
            AnyBackend::Odin(client) => {
                Backend::set_sip_credentials(client, user_id, user_name, password).await
            }
            AnyBackend::Ocip(client) => {
                Backend::set_sip_credentials(client, user_id, user_name, password).await
            }
        }
    }

    async fn sip_user_name(&self, user_id: &str) -> Result<Option<String>, BackendError> {
        match self {
            AnyBackend::Odin(client) => Backend::sip_user_name(client, user_id).await,
            AnyBackend::Ocip(client) => Backend::sip_user_name(client, user_id).await,
        }
    }
}

impl DeviceBackend for AnyBackend {
    async fn user_devices(&self, user_id: &str) -> Result<Vec<UserDevice>, BackendError> {
        match self {
            AnyBackend::Odin(client) => DeviceBackend::user_devices(client, user_id).await,
            AnyBackend::Ocip(client) => DeviceBackend::user_devices(client, user_id).await,
        }
    }

    async fn device_facts(&self, device: &DeviceId) -> Result<DeviceFacts, BackendError> {
        match self {
            AnyBackend::Odin(client) => DeviceBackend::device_facts(client, device).await,
            AnyBackend::Ocip(client) => DeviceBackend::device_facts(client, device).await,
        }
    }

    async fn rebuild_device(&self, device: &DeviceId) -> Result<(), BackendError> {
        match self {
            AnyBackend::Odin(client) => DeviceBackend::rebuild_device(client, device).await,
            AnyBackend::Ocip(client) => DeviceBackend::rebuild_device(client, device).await,
        }
    }

    async fn reset_device(&self, device: &DeviceId) -> Result<(), BackendError> {
        match self {
            AnyBackend::Odin(client) => DeviceBackend::reset_device(client, device).await,
            AnyBackend::Ocip(client) => DeviceBackend::reset_device(client, device).await,
        }
    }

    async fn group_registrations(
        &self,
        group: GroupScope<'_>,
    ) -> Result<Vec<UserRegistrations>, BackendError> {
        match self {
            AnyBackend::Odin(client) => DeviceBackend::group_registrations(client, group).await,
            AnyBackend::Ocip(client) => DeviceBackend::group_registrations(client, group).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 26: the new SIP user name and its read reach both clients, not the seam's defaults
    /// (which refuse a name).
    #[tokio::test]
    async fn a_new_sip_user_name_goes_through_to_either_client() {
        let simulator = odin_sim::spawn(
            odin_sim::SimConfig::with_users(2).with_ocip(odin_sim::OcipFrontConfig::default()),
        )
        .await
        .expect("the simulator starts");
        let odin = OdinClient::login(odin_client::ClientConfig::new(
            simulator.base_url(),
            "admin",
            SecretString::from("admin"),
        ))
        .await
        .expect("login");
        let ocip = OcipClient::login(ocip_client::OcipConfig::new(
            simulator.ocip_url().expect("an OCI-P front"),
            "admin",
            SecretString::from("admin"),
        ))
        .await
        .expect("login");
        for (backend, user, name) in [
            (
                AnyBackend::Odin(odin),
                "user0001@demo.example",
                "k3v9x2m4q8w1",
            ),
            (
                AnyBackend::Ocip(ocip),
                "user0002@demo.example",
                "m4x8q2v7k9z3",
            ),
        ] {
            backend
                .set_sip_credentials(user, Some(name), &SecretString::from("Brand-New-Pass7"))
                .await
                .expect("set");
            assert_eq!(
                backend.sip_user_name(user).await.expect("read").as_deref(),
                Some(name)
            );
            let truth = simulator.credentials(user).expect("user");
            assert_eq!(truth.sip_user_name.as_deref(), Some(name));
            assert_eq!(truth.sip_password.as_deref(), Some("Brand-New-Pass7"));
        }
    }
}
