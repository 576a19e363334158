//! Whom a run targets: always a table of groups (a run of one group is a table of one), and
//! whether its outputs carry group columns.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::types::GroupRef;

/// Whom a run targets: a table of groups, at least one, each user of the run referring to one
/// of them by its index; and one flag, [`Scope::group_columns`], saying whether the run's
/// outputs (the output file, the failures file, a dry run's rows, the audit record) name each
/// user's group. The plan ([`crate::Plan::scope`]), the journal header
/// ([`crate::JournalHeader::scope`]) and the report ([`crate::JournalReport::scope`]) share it.
///
/// A run of one group ([`Scope::group`]) has no group columns and keeps the seed's output shape
/// byte for byte; a run across groups ([`Scope::across`], from [`crate::Targets::Grouped`] or
/// [`crate::Targets::AllGroups`]) has them, even when its table holds a single group.
///
/// Not to be confused with its rows, [`GroupRef`] (one group, owned), nor with the seam's
/// [`crate::GroupScope`] (one group, borrowed for one backend request).
///
/// Its `Display` is the scope in an error's words (`group `g` of service provider `sp``, or
/// `a run across 3 groups`); the CLI words its screens itself, in one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// At least one group; exactly one without group columns.
    groups: Vec<GroupRef>,
    /// Whether the outputs carry group columns (a run across groups).
    group_columns: bool,
    /// A run across groups: the service provider whose every group it takes
    /// ([`crate::Targets::AllGroups`]); empty for users named across groups.
    /// Unused for a run of one group (its group names its service provider).
    across_service_provider_id: String,
}

impl Scope {
    /// A run of one group: `group` alone, no group columns.
    pub fn group(group: GroupRef) -> Scope {
        Scope {
            groups: vec![group],
            group_columns: false,
            across_service_provider_id: String::new(),
        }
    }

    /// A run across `groups` (each once, in the order met), with group columns;
    /// `service_provider_id` is the one whose every group the run takes (for
    /// [`crate::Targets::AllGroups`]; empty otherwise). `None` for an empty table: a scope
    /// always holds a group.
    pub fn across(service_provider_id: impl Into<String>, groups: Vec<GroupRef>) -> Option<Scope> {
        (!groups.is_empty()).then(|| Scope {
            groups,
            group_columns: true,
            across_service_provider_id: service_provider_id.into(),
        })
    }

    /// Every group once, at least one; a user's group index points into it.
    pub fn groups(&self) -> &[GroupRef] {
        &self.groups
    }

    /// The group at `index` (the first for an index out of the table; a plan and a replayed
    /// journal never hold one).
    pub fn group_at(&self, index: u32) -> &GroupRef {
        self.groups
            .get(index as usize)
            .unwrap_or_else(|| &self.groups[0])
    }

    /// The one explicit flag: whether the run's outputs carry group columns (`serviceProviderId`
    /// and `groupId` before each user). False for a run of one group, whose outputs keep the
    /// seed's shape; true for a run across groups.
    pub fn group_columns(&self) -> bool {
        self.group_columns
    }

    /// The group to write in the group columns of a user whose group index is `index`: `None`
    /// when the outputs carry no group columns.
    pub fn column_group(&self, index: u32) -> Option<&GroupRef> {
        self.group_columns.then(|| self.group_at(index))
    }

    /// The run's one group, when it is a run of one group (no group columns); `None` for a run
    /// across groups, even of a single group.
    pub fn one_group(&self) -> Option<&GroupRef> {
        (!self.group_columns).then(|| &self.groups[0])
    }

    /// The service provider as the journal header's `serviceProviderId` (and the audit record)
    /// names it: the one group's; across groups the one whose every group the run takes, or
    /// empty.
    pub fn service_provider_id(&self) -> &str {
        if self.group_columns {
            &self.across_service_provider_id
        } else {
            &self.groups[0].service_provider_id
        }
    }

    /// The group as the journal header's `groupId` (and the audit record) names it: the one
    /// group's; empty across groups.
    pub fn group_id(&self) -> &str {
        if self.group_columns {
            ""
        } else {
            &self.groups[0].group_id
        }
    }

    /// The groups as the journal header's `groups` (and the audit record) list them: every
    /// group of a run across groups; empty for a run of one group.
    pub fn listed_groups(&self) -> &[GroupRef] {
        if self.group_columns {
            &self.groups
        } else {
            &[]
        }
    }

    /// Checks a journal's `targets` record against the scope: `groups` (each user's index in
    /// the table) is there for a run across groups only, one per user of `users`, each within
    /// the table. The error is the journal's defect in words.
    pub(crate) fn check_user_groups(
        &self,
        users: usize,
        groups: Option<&[u32]>,
    ) -> Result<(), String> {
        match (groups, self.group_columns) {
            (None, false) => Ok(()),
            (Some(_), false) => Err("targets with groups in a journal of one group".into()),
            (None, true) => Err("targets without their groups in a journal across groups".into()),
            (Some(groups), true) if groups.len() != users => Err(format!(
                "targets of {users} users with {} groups",
                groups.len()
            )),
            (Some(groups), true) => {
                let known = self.groups.len();
                match groups.iter().find(|&&group| group as usize >= known) {
                    Some(bad) => Err(format!(
                        "a target in group {bad}, of the {known} groups the header lists"
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    /// The scope the header fields of a journal name (`serviceProviderId`, `groupId`, `groups`):
    /// `groups` empty is a run of one group (every journal of version 3 and older).
    pub(crate) fn from_header_fields(
        service_provider_id: String,
        group_id: String,
        groups: Vec<GroupRef>,
    ) -> Scope {
        Scope::across(service_provider_id.clone(), groups)
            .unwrap_or_else(|| Scope::group(GroupRef::new(service_provider_id, group_id)))
    }
}

/// The scope in an error's words (a journal that does not match its run):
/// `group `g` of service provider `sp``, or `a run across 3 groups`.
impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.one_group() {
            Some(group) => write!(formatter, "{group}"),
            None => write!(formatter, "a run across {} groups", self.groups.len()),
        }
    }
}

/// Serialises as the journal header's fields: `serviceProviderId`, `groupId`, and for a run
/// across groups `groups`.
impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("serviceProviderId", self.service_provider_id())?;
        map.serialize_entry("groupId", self.group_id())?;
        if !self.listed_groups().is_empty() {
            map.serialize_entry("groups", self.listed_groups())?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_group_is_a_table_of_one_without_group_columns() {
        let scope = Scope::group(GroupRef::new("sp", "g"));
        assert_eq!(scope.groups(), &[GroupRef::new("sp", "g")]);
        assert!(!scope.group_columns());
        assert_eq!(scope.column_group(0), None);
        assert_eq!(scope.one_group(), Some(&GroupRef::new("sp", "g")));
        assert_eq!((scope.service_provider_id(), scope.group_id()), ("sp", "g"));
        assert!(scope.listed_groups().is_empty());
    }

    #[test]
    fn across_groups_has_group_columns_even_for_one_group() {
        assert_eq!(Scope::across("sp", Vec::new()), None);
        let scope = Scope::across("sp", vec![GroupRef::new("sp", "g")]).unwrap();
        assert!(scope.group_columns());
        assert_eq!(scope.one_group(), None);
        assert_eq!(scope.column_group(0), Some(&GroupRef::new("sp", "g")));
        assert_eq!((scope.service_provider_id(), scope.group_id()), ("sp", ""));
        assert_eq!(scope.listed_groups().len(), 1);
        // An index out of the table falls back to the first group rather than panicking.
        assert_eq!(scope.group_at(7), &GroupRef::new("sp", "g"));
    }

    #[test]
    fn words_and_targets_checks() {
        let one = Scope::group(GroupRef::new("sp", "g"));
        let table = Scope::across("", vec![GroupRef::new("a", "1"), GroupRef::new("b", "2")])
            .expect("two groups");
        assert_eq!(one.to_string(), "group `g` of service provider `sp`");
        assert_eq!(table.to_string(), "a run across 2 groups");

        assert_eq!(one.check_user_groups(2, None), Ok(()));
        assert_eq!(table.check_user_groups(2, Some(&[1, 0])), Ok(()));
        for (scope, groups, defect) in [
            (
                &one,
                Some(&[0, 0][..]),
                "targets with groups in a journal of one group",
            ),
            (
                &table,
                None,
                "targets without their groups in a journal across groups",
            ),
            (&table, Some(&[0][..]), "targets of 2 users with 1 groups"),
            (
                &table,
                Some(&[0, 2][..]),
                "a target in group 2, of the 2 groups the header lists",
            ),
        ] {
            assert_eq!(scope.check_user_groups(2, groups), Err(defect.to_owned()));
        }
    }

    #[test]
    fn header_fields_round_trip() {
        for scope in [
            Scope::group(GroupRef::new("sp", "g")),
            Scope::across("", vec![GroupRef::new("a", "1"), GroupRef::new("b", "2")]).unwrap(),
            Scope::across("sp", vec![GroupRef::new("sp", "1")]).unwrap(),
        ] {
            let back = Scope::from_header_fields(
                scope.service_provider_id().to_owned(),
                scope.group_id().to_owned(),
                scope.listed_groups().to_vec(),
            );
            assert_eq!(back, scope);
        }
    }
}
