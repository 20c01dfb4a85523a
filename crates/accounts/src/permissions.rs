//! What each role may do: least privilege, one table. A role not listed for a permission is
//! refused; per-record rules (a call-taker sees only their own dispositions and acts only as
//! their own agent) and per-field rules (8 U.S.C. 1367 details only for legal reviewers) are
//! applied by the handlers on top of this.

use switchboard_domain::Role;

/// Something a user can be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read agencies, agreements and officers.
    RegistryRead,
    /// Create and change them.
    RegistryWrite,
    /// Identify a caller by number.
    CallerLookup,
    /// Read the center's calls.
    CallsRead,
    /// Query the record systems about a subject (always with a purpose).
    RecordsQuery,
    /// See queues, agents, calls and statistics of the ACD.
    AcdView,
    /// Change one's own agent state, answer, reject and end one's own calls.
    AgentControl,
    /// Force any agent's state (supervisors).
    AgentSupervise,
    /// Stand in for the telephony edge: inject calls, hang up as the caller, take a callback.
    TelephonyEdge,
    /// Staffing plans and forecasts.
    Staffing,
    /// Judge an inquiry and record a disposition.
    DispositionWrite,
    /// Read dispositions (call-takers only their own).
    DispositionRead,
    /// Approve or refuse a disposition awaiting a second person.
    DispositionReview,
    /// Override a rule that may be overridden (a privileged action).
    RuleOverride,
    /// Read juvenile-liaison cases.
    LiaisonRead,
    /// Work juvenile-liaison cases.
    LiaisonWrite,
    /// Read the audit log and its reports, verify it.
    AuditRead,
    /// Create, change, disable and unlock user accounts.
    UserAdmin,
    /// See 8 U.S.C. 1367-protected details.
    ProtectedDetails,
    /// Record, approve or refuse a legal determination (two legal reviewers).
    Determine,
    /// Read legal determinations.
    DeterminationRead,
    /// Issue and revoke record-feed keys, see the feeds' freshness, retrain the record index.
    RecordFeeds,
}

impl Permission {
    pub const ALL: [Permission; 22] = [
        Self::RegistryRead,
        Self::RegistryWrite,
        Self::CallerLookup,
        Self::CallsRead,
        Self::RecordsQuery,
        Self::AcdView,
        Self::AgentControl,
        Self::AgentSupervise,
        Self::TelephonyEdge,
        Self::Staffing,
        Self::DispositionWrite,
        Self::DispositionRead,
        Self::DispositionReview,
        Self::RuleOverride,
        Self::LiaisonRead,
        Self::LiaisonWrite,
        Self::AuditRead,
        Self::UserAdmin,
        Self::ProtectedDetails,
        Self::Determine,
        Self::DeterminationRead,
        Self::RecordFeeds,
    ];

    /// The roles that hold this permission.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Self::RegistryRead => &[CallTaker, Supervisor, Administrator, Auditor],
            Self::RegistryWrite => &[Administrator],
            Self::CallerLookup => &[CallTaker, Supervisor, JuvenileLiaison],
            Self::CallsRead => &[CallTaker, Supervisor, JuvenileLiaison, Auditor],
            Self::RecordsQuery => &[CallTaker, Supervisor, JuvenileLiaison, LegalReviewer],
            Self::AcdView => &[CallTaker, Supervisor, JuvenileLiaison, Planner],
            Self::AgentControl => &[CallTaker, JuvenileLiaison, Supervisor],
            Self::AgentSupervise => &[Supervisor],
            Self::TelephonyEdge => &[Administrator],
            Self::Staffing => &[Planner, Supervisor],
            Self::DispositionWrite => &[CallTaker, Supervisor, JuvenileLiaison],
            Self::DispositionRead => &[
                CallTaker,
                Supervisor,
                LegalReviewer,
                JuvenileLiaison,
                Auditor,
            ],
            Self::DispositionReview => &[Supervisor, LegalReviewer],
            Self::RuleOverride => &[Supervisor],
            Self::LiaisonRead => &[JuvenileLiaison, Supervisor, LegalReviewer, Auditor],
            Self::LiaisonWrite => &[JuvenileLiaison],
            Self::AuditRead => &[Auditor],
            Self::UserAdmin => &[Administrator],
            Self::ProtectedDetails => &[LegalReviewer],
            Self::Determine => &[LegalReviewer],
            Self::DeterminationRead => &[LegalReviewer, Auditor],
            Self::RecordFeeds => &[Administrator],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegistryRead => "registry_read",
            Self::RegistryWrite => "registry_write",
            Self::CallerLookup => "caller_lookup",
            Self::CallsRead => "calls_read",
            Self::RecordsQuery => "records_query",
            Self::AcdView => "acd_view",
            Self::AgentControl => "agent_control",
            Self::AgentSupervise => "agent_supervise",
            Self::TelephonyEdge => "telephony_edge",
            Self::Staffing => "staffing",
            Self::DispositionWrite => "disposition_write",
            Self::DispositionRead => "disposition_read",
            Self::DispositionReview => "disposition_review",
            Self::RuleOverride => "rule_override",
            Self::LiaisonRead => "liaison_read",
            Self::LiaisonWrite => "liaison_write",
            Self::AuditRead => "audit_read",
            Self::UserAdmin => "user_admin",
            Self::ProtectedDetails => "protected_details",
            Self::Determine => "determine",
            Self::DeterminationRead => "determination_read",
            Self::RecordFeeds => "record_feeds",
        }
    }
}

/// Whether `role` holds `permission`.
/// Whether granting `role` needs a second administrator's approval: the roles that review,
/// approve, audit or administer, whose two-person rules one administrator alone could
/// otherwise get around by making a second account.
pub fn needs_second_administrator(role: Role) -> bool {
    matches!(
        role,
        Role::Administrator | Role::Supervisor | Role::LegalReviewer | Role::Auditor
    )
}

pub fn allows(role: Role, permission: Permission) -> bool {
    permission.roles().contains(&role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_privilege_holds() {
        // The auditor is read-only: no permission that changes anything.
        let changes = [
            Permission::RegistryWrite,
            Permission::AgentControl,
            Permission::AgentSupervise,
            Permission::TelephonyEdge,
            Permission::DispositionWrite,
            Permission::DispositionReview,
            Permission::RuleOverride,
            Permission::LiaisonWrite,
            Permission::UserAdmin,
            Permission::Determine,
        ];
        for p in changes {
            assert!(!allows(Role::Auditor, p), "{p:?}");
        }
        // Only auditors read the audit log; only legal reviewers see protected details;
        // administrators never query records.
        for role in [
            Role::CallTaker,
            Role::Supervisor,
            Role::JuvenileLiaison,
            Role::LegalReviewer,
            Role::Administrator,
            Role::Planner,
        ] {
            assert!(!allows(role, Permission::AuditRead), "{role:?}");
        }
        assert_eq!(Permission::ProtectedDetails.roles(), &[Role::LegalReviewer]);
        assert!(!allows(Role::Administrator, Permission::RecordsQuery));
        assert!(!allows(Role::Planner, Permission::RecordsQuery));
        // Every permission is held by someone, and names are unique.
        let mut names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Permission::ALL.len());
        assert!(Permission::ALL.iter().all(|p| !p.roles().is_empty()));
    }
}
