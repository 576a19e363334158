//! How the operator's screens name whom a run targets: the one place in the binary that words a
//! run of one group differently from a run across groups (the files ask
//! [`crate::output::columns`]). Each screen calls one method and never branches itself.

use bwreset_core::{GroupRef, Scope};

/// A run's [`Scope`] as the confirmation, the dry run, the summary and `resume --dry-run` name
/// it.
pub(crate) struct Place<'a> {
    shape: Shape<'a>,
}

/// The two shapes a screen words differently.
enum Shape<'a> {
    /// A run of one group (no group columns: the seed's output shape).
    Group(&'a GroupRef),
    /// A run across these groups (at least one), with group columns.
    Across(&'a [GroupRef]),
}

impl<'a> Place<'a> {
    pub(crate) fn of(scope: &'a Scope) -> Place<'a> {
        let shape = match scope.one_group() {
            Some(group) => Shape::Group(group),
            None => Shape::Across(scope.groups()),
        };
        Place { shape }
    }

    /// The confirmation's target lines, each ending in a newline: the service provider and
    /// the group, or `groups:` then `lines` (which it asks only across groups), one under the
    /// other.
    pub(crate) fn confirmation(&self, lines: impl FnOnce(&[GroupRef]) -> Vec<String>) -> String {
        match self.shape {
            Shape::Group(group) => format!(
                "  service provider: `{}`\n  group:            `{}`\n",
                group.service_provider_id, group.group_id,
            ),
            Shape::Across(groups) => format!(
                "  groups:           {}\n",
                lines(groups).join("\n                    ")
            ),
        }
    }

    /// A dry run's, after "reset": `in group `g` (service provider `sp`)`, or
    /// `across 3 group(s): ` and `lines` (which it asks only across groups), joined by `; `.
    pub(crate) fn dry_run(&self, lines: impl FnOnce(&[GroupRef]) -> Vec<String>) -> String {
        match self.shape {
            Shape::Group(group) => format!(
                "in group `{}` (service provider `{}`)",
                group.group_id, group.service_provider_id,
            ),
            Shape::Across(groups) => {
                format!(
                    "across {} group(s): {}",
                    groups.len(),
                    lines(groups).join("; ")
                )
            }
        }
    }

    /// The summary's, after "reset": `of group `g` (service provider `sp`)`, or
    /// `across 3 group(s) of 2 service provider(s)`.
    pub(crate) fn summary(&self) -> String {
        match self.shape {
            Shape::Group(_) => self.state(),
            Shape::Across(groups) => format!(
                "across {} group(s) of {} service provider(s)",
                groups.len(),
                super::service_provider_count(groups)
            ),
        }
    }

    /// `resume --dry-run`'s, after "reset": `of group `g` (service provider `sp`)`, or
    /// `across 3 group(s)`.
    pub(crate) fn state(&self) -> String {
        match self.shape {
            Shape::Group(group) => format!(
                "of group `{}` (service provider `{}`)",
                group.group_id, group.service_provider_id
            ),
            Shape::Across(groups) => format!("across {} group(s)", groups.len()),
        }
    }

    /// The flag that takes the failures file back for another run: `--targets` when the file
    /// names each user's group (across groups), else `--users-file`.
    pub(crate) fn failures_flag(&self) -> &'static str {
        match self.shape {
            Shape::Group(_) => "--users-file",
            Shape::Across(_) => "--targets",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(groups: &[GroupRef]) -> Vec<String> {
        groups.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn one_group_and_a_table_are_worded_apart() {
        let one = Scope::group(GroupRef::new("sp", "g"));
        let place = Place::of(&one);
        assert_eq!(
            place.confirmation(|_| unreachable!("one group lists no groups")),
            "  service provider: `sp`\n  group:            `g`\n"
        );
        assert_eq!(
            place.dry_run(|_| unreachable!("one group lists no groups")),
            "in group `g` (service provider `sp`)"
        );
        assert_eq!(place.summary(), "of group `g` (service provider `sp`)");
        assert_eq!(place.state(), "of group `g` (service provider `sp`)");
        assert_eq!(place.failures_flag(), "--users-file");

        let table = Scope::across(
            "",
            vec![
                GroupRef::new("a", "1"),
                GroupRef::new("a", "2"),
                GroupRef::new("b", "3"),
            ],
        )
        .expect("three groups");
        let place = Place::of(&table);
        assert_eq!(
            place.confirmation(|groups| lines(&groups[..2])),
            "  groups:           group `1` of service provider `a`\n                    group `2` of service provider `a`\n"
        );
        assert_eq!(
            place.dry_run(|groups| lines(&groups[2..])),
            "across 3 group(s): group `3` of service provider `b`"
        );
        assert_eq!(
            place.summary(),
            "across 3 group(s) of 2 service provider(s)"
        );
        assert_eq!(place.state(), "across 3 group(s)");
        assert_eq!(place.failures_flag(), "--targets");

        // A run across groups keeps its wording even with a single group in its table.
        let single = Scope::across("sp", vec![GroupRef::new("sp", "g")]).expect("one group");
        assert_eq!(Place::of(&single).state(), "across 1 group(s)");
    }
}
