//! Credential changes as both fronts make them: find the user, check the value against the
//! rules that apply to that user, then record it in the credential's history. The OCI-P front
//! calls these; their checks are the REST front's, with the same error texts.

use crate::reply::ApiError;
use crate::rules::PasscodeOwner;
use crate::world::{AUTHENTICATION, SipUserName, World};

/// The longest SIP authentication user name (the schema's cap).
const MAX_SIP_USER_NAME: usize = 80;

impl World {
    /// The index of a user, or `[Error 4008] User not found`.
    pub(crate) fn existing_user(&self, user_id: &str) -> Result<usize, ApiError> {
        self.user(user_id)
            .ok_or_else(|| ApiError::user_not_found(user_id))
    }

    /// Changes a user's SIP authentication name and/or password. `old` is the old password when
    /// the request carried one (then it must match). A name held by another user anywhere in the
    /// system is refused (names are unique); the user's own name is no change. Nothing changes
    /// unless every check passes.
    pub(crate) fn change_sip_credentials(
        &mut self,
        index: usize,
        user_name: Option<String>,
        password: Option<String>,
        old: Option<&str>,
    ) -> Result<(), ApiError> {
        let user = &self.users[index];
        if !user.has_service(AUTHENTICATION) {
            return Err(ApiError::service_not_assigned(AUTHENTICATION));
        }
        let current_name = user.sip_user_name.as_ref().map(SipUserName::as_text);
        // Only a name that differs from the user's own is a change.
        let new_name = user_name.filter(|name| Some(name) != current_name.as_ref());
        if let Some(name) = &new_name {
            if name.is_empty() || name.chars().count() > MAX_SIP_USER_NAME {
                return Err(ApiError::invalid_value("userName"));
            }
            if self
                .sip_user_names
                .get(name)
                .is_some_and(|&holders| holders > 0)
            {
                return Err(ApiError::user_name_in_use(name));
            }
        }
        if let Some(old) = old
            && user.sip_password.current.as_deref() != Some(old)
        {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "[Error 4312] Invalid old password",
            ));
        }
        let effective_name = new_name.clone().or(current_name.clone());
        if let Some(password) = &password {
            self.sip_rules_of(user)
                .check(
                    password,
                    effective_name.as_deref(),
                    user.sip_password.current.as_deref(),
                )
                .map_err(|violation| ApiError::rule(&violation))?;
        }
        if let Some(name) = new_name {
            self.rename_sip_user(index, current_name, name);
        }
        if let Some(password) = password {
            self.users[index].sip_password.set(password);
        }
        Ok(())
    }

    /// Gives a user a new SIP authentication user name, keeping the index of names right.
    fn rename_sip_user(&mut self, index: usize, current_name: Option<String>, name: String) {
        if let Some(current_name) = current_name
            && let Some(holders) = self.sip_user_names.get_mut(&current_name)
        {
            *holders = holders.saturating_sub(1);
            if *holders == 0 {
                self.sip_user_names.remove(&current_name);
            }
        }
        *self.sip_user_names.entry(name.clone()).or_default() += 1;
        let user = &mut self.users[index];
        user.sip_user_name = Some(SipUserName::Text(name));
        user.sip_user_name_changes += 1;
    }

    /// Changes a user's voice portal passcode under the group's passcode rules.
    pub(crate) fn change_portal_passcode(
        &mut self,
        index: usize,
        passcode: String,
    ) -> Result<(), ApiError> {
        let user = &self.users[index];
        let history = user.portal_passcode.history();
        let owner = PasscodeOwner {
            phone_number: user.phone_number.as_deref(),
            extension: user.extension.as_deref(),
            history: &history,
        };
        self.groups[user.group]
            .passcode_rules
            .check(&passcode, &owner)
            .map_err(|violation| ApiError::rule(&violation))?;
        drop(history);
        self.users[index].portal_passcode.set(passcode);
        Ok(())
    }

    /// Changes a user's web password under the group's web password rules.
    pub(crate) fn change_web_password(
        &mut self,
        index: usize,
        password: String,
    ) -> Result<(), ApiError> {
        let user = &self.users[index];
        self.groups[user.group]
            .web_rules
            .check(&password, &user.user_id)
            .map_err(|violation| ApiError::rule(&violation))?;
        self.users[index].web_password.set(password);
        Ok(())
    }
}
