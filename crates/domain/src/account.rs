//! Accounts (tenants), their plans and AI limits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Pro,
    Team,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 4] = [Plan::Free, Plan::Pro, Plan::Team, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Team => "team",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The plan's default limits: (daily per user, monthly per account); `None` is unlimited.
    pub fn default_limits(self) -> AiLimits {
        let (daily, monthly) = match self {
            Plan::Free => (Some(50), Some(300)),
            Plan::Pro => (Some(200), Some(3000)),
            Plan::Team => (Some(500), Some(20000)),
            Plan::Enterprise => (None, None),
        };
        AiLimits { daily, monthly }
    }
}

/// AI call limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiLimits {
    pub daily: Option<i64>,
    pub monthly: Option<i64>,
}

/// Instance-wide overrides from the environment (`FLOWPILOT_AI_DAILY_LIMIT`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    pub daily: Option<i64>,
    pub monthly: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: Uuid,
    pub name: String,
    pub plan: Plan,
    pub ai_daily_limit: Option<i64>,
    pub ai_monthly_limit: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl Account {
    /// Effective limits: the account's own override wins, then the environment (which only
    /// touches plans that are limited), then the plan default.
    pub fn effective_limits(&self, env: LimitOverrides) -> AiLimits {
        let plan = self.plan.default_limits();
        let pick =
            |own: Option<i64>, env: Option<i64>, plan: Option<i64>| own.or(plan.and(env).or(plan));
        AiLimits {
            daily: pick(self.ai_daily_limit, env.daily, plan.daily),
            monthly: pick(self.ai_monthly_limit, env.monthly, plan.monthly),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(plan: Plan, daily: Option<i64>, monthly: Option<i64>) -> Account {
        Account {
            id: Uuid::nil(),
            name: "Acme".into(),
            plan,
            ai_daily_limit: daily,
            ai_monthly_limit: monthly,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn plan_defaults_apply_without_overrides() {
        let limits = account(Plan::Pro, None, None).effective_limits(LimitOverrides::default());
        assert_eq!(
            limits,
            AiLimits {
                daily: Some(200),
                monthly: Some(3000)
            }
        );
    }

    #[test]
    fn environment_overrides_limited_plans_but_not_enterprise() {
        let env = LimitOverrides {
            daily: Some(7),
            monthly: Some(70),
        };
        assert_eq!(
            account(Plan::Free, None, None).effective_limits(env),
            AiLimits {
                daily: Some(7),
                monthly: Some(70)
            }
        );
        assert_eq!(
            account(Plan::Enterprise, None, None).effective_limits(env),
            AiLimits {
                daily: None,
                monthly: None
            }
        );
    }

    #[test]
    fn account_override_wins_over_everything() {
        let env = LimitOverrides {
            daily: Some(7),
            monthly: None,
        };
        assert_eq!(
            account(Plan::Enterprise, Some(3), None).effective_limits(env),
            AiLimits {
                daily: Some(3),
                monthly: None
            }
        );
    }
}
