//! `bypassrls_app_role` (error, live only): an application role (one of
//! `Config.test_roles`, by default `authenticated` and `anon`) that is not
//! subject to RLS: it has `BYPASSRLS`, is a superuser, or owns a table keel
//! manages (an owner is exempt unless the table is FORCEd, and may disable
//! RLS or drop the policies). Every policy is then moot for that role.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct BypassrlsAppRole;

impl LintRule for BypassrlsAppRole {
    fn id(&self) -> Code {
        codes::BYPASSRLS_APP_ROLE
    }

    fn level(&self) -> Severity {
        Severity::Error
    }

    fn check(&self, model: &Model, config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for role in &model.roles {
            if !config.test_roles.contains(&role.name) {
                continue;
            }
            let attribute = match (role.superuser, role.bypassrls) {
                (true, _) => Some("SUPERUSER"),
                (false, true) => Some("BYPASSRLS"),
                _ => None,
            };
            if let Some(attribute) = attribute {
                out.push(
                    finding(
                        self,
                        format!(
                            "application role {} has {attribute}: Row Level Security does not apply to it",
                            role.name
                        ),
                    )
                    .with_hint(format!(
                        "`ALTER ROLE {} NO{attribute};`",
                        role.name
                    )),
                );
            }
            for t in model.tables.values().filter(|t| t.managed) {
                if t.owner.as_deref() != Some(role.name.as_str()) {
                    continue;
                }
                let d = finding(
                    self,
                    format!(
                        "application role {} owns {}: it can disable its Row Level Security",
                        role.name, t.name
                    ),
                )
                .with_hint(format!(
                    "give the table to the role that runs migrations: `ALTER TABLE {} OWNER TO ...;`",
                    t.name.sql()
                ));
                out.push(point(d, t.site.as_ref()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{config, model};
    use super::super::model::Role;
    use super::*;
    use crate::policies::model::TableName;

    #[test]
    fn fires_on_bypassrls_superuser_and_ownership() {
        let mut m = model(
            "CREATE TABLE items (household_id uuid);\nCREATE TABLE other (x int);\n",
            "ALTER TABLE items ENABLE ROW LEVEL SECURITY;\n",
        );
        m.roles = vec![
            Role {
                name: "authenticated".into(),
                bypassrls: true,
                superuser: false,
            },
            Role {
                name: "anon".into(),
                bypassrls: false,
                superuser: false,
            },
            Role {
                name: "postgres".into(),
                bypassrls: true,
                superuser: true,
            },
        ];
        for (t, owner) in [("items", "anon"), ("other", "anon")] {
            m.tables.get_mut(&TableName::from_words(t)).unwrap().owner = Some(owner.into());
        }
        let found: Vec<(String, Option<usize>)> = BypassrlsAppRole
            .check(&m, &config())
            .into_iter()
            .map(|d| (d.message, d.line))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "application role authenticated has BYPASSRLS: Row Level Security does not apply to it".to_string(),
                    None
                ),
                (
                    "application role anon owns public.items: it can disable its Row Level Security".to_string(),
                    Some(1)
                ),
            ]
        );
    }

    #[test]
    fn quiet_from_the_files() {
        // The files say nothing about roles.
        let m = model(
            super::super::fixture::CLEAN_UP,
            super::super::fixture::CLEAN_POLICIES,
        );
        assert!(BypassrlsAppRole.check(&m, &config()).is_empty());
    }
}
