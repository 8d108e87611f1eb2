//! `rpcs`: every RPC of the service and the command that makes it, for an
//! operator who reads an RPC's name in the service's logs or in a mutual
//! TLS refusal and wants the command behind it.
//!
//! The table is checked against the API's own descriptor and against the
//! command tree by the tests below, so an RPC added to the API without a
//! command here fails the build's tests.

use anyhow::Result;
use serde_json::{Value, json};

use crate::output::Output;

/// The package every service of the API is declared in.
pub(crate) const PACKAGE: &str = "icr.consent.v1";

/// Each RPC (`Service/Method`, in the API's package) and the command path
/// that calls it.
pub(crate) const RPC_COMMANDS: [(&str, &str); 25] = [
    ("AccessDecisionService/Authorize", "authorize"),
    // One `--section` asks Authorize; several ask them in one batch.
    ("AccessDecisionService/AuthorizeBatch", "authorize"),
    ("ConsentService/RecordObjection", "consent object"),
    ("ConsentService/WithdrawObjection", "consent withdraw"),
    ("ConsentService/GetConsentStatus", "consent status"),
    (
        "ConsentService/RegisterPowerOfAttorney",
        "consent attorney register",
    ),
    (
        "ConsentService/RevokePowerOfAttorney",
        "consent attorney revoke",
    ),
    (
        "ConsentService/GrantPermissionToView",
        "consent permission grant",
    ),
    (
        "ConsentService/RevokePermissionToView",
        "consent permission revoke",
    ),
    (
        "CareContextService/RegisterPatient",
        "care register-patient",
    ),
    ("CareContextService/StartCareRelationship", "care start"),
    ("CareContextService/EndCareRelationship", "care end"),
    ("PolicyAdminService/JoinOrganisation", "policy join-org"),
    ("PolicyAdminService/LeaveOrganisation", "policy leave-org"),
    ("PolicyAdminService/SetRolePolicy", "policy set-role"),
    ("PolicyAdminService/SetRegionPolicy", "policy set-region"),
    ("AuditService/ReadEvents", "events"),
    ("AuditService/ReadDecisions", "audit trail"),
    ("AuditService/GetAccessReport", "audit report"),
    ("AuditService/ListReviewQueue", "audit review-queue"),
    ("AuditService/RecordAccessReview", "audit review"),
    ("AuditService/AuthorizeAt", "audit at"),
    ("AuditService/RecheckDecision", "audit recheck"),
    ("AuditService/ListCheckpoints", "audit checkpoints"),
    ("AuditService/GetLogHeads", "audit heads"),
];

/// Columns of the `rpcs` table.
const FIELDS: &[&str] = &["rpc", "command"];

/// The table as records, with the RPCs' full gRPC names.
fn records() -> Vec<Value> {
    RPC_COMMANDS
        .iter()
        .map(|(rpc, command)| {
            json!({
                "rpc": format!("{PACKAGE}.{rpc}"),
                "command": format!("consent-cli {command}"),
            })
        })
        .collect()
}

/// Runs `rpcs`: prints the table (no service needed).
pub(crate) fn run(output: Output) -> Result<()> {
    output.records(FIELDS, &records())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;
    use prost::Message;

    use super::*;
    use crate::Cli;

    /// Every method the API's descriptor declares, as `Service/Method`.
    fn declared_rpcs() -> BTreeSet<String> {
        let set = prost_types::FileDescriptorSet::decode(icr_proto::FILE_DESCRIPTOR_SET)
            .expect("the API's descriptor set decodes");
        set.file
            .iter()
            .filter(|file| file.package() == PACKAGE)
            .flat_map(|file| &file.service)
            .flat_map(|service| {
                service
                    .method
                    .iter()
                    .map(move |method| format!("{}/{}", service.name(), method.name()))
            })
            .collect()
    }

    #[test]
    fn every_rpc_of_the_api_has_a_command_and_no_other_is_listed() {
        let mapped: BTreeSet<String> = RPC_COMMANDS
            .iter()
            .map(|(rpc, _)| (*rpc).to_owned())
            .collect();
        assert_eq!(mapped.len(), RPC_COMMANDS.len(), "an RPC is listed twice");
        let declared = declared_rpcs();
        let missing: Vec<_> = declared.difference(&mapped).collect();
        assert!(missing.is_empty(), "RPCs with no command: {missing:?}");
        let unknown: Vec<_> = mapped.difference(&declared).collect();
        assert!(unknown.is_empty(), "not RPCs of the API: {unknown:?}");
    }

    #[test]
    fn every_listed_command_is_in_the_command_tree() {
        let root = Cli::command();
        for (rpc, path) in RPC_COMMANDS {
            let mut command = &root;
            for word in path.split(' ') {
                command = command
                    .find_subcommand(word)
                    .unwrap_or_else(|| panic!("{rpc}: no command `{path}` (at `{word}`)"));
            }
            assert!(
                !command.has_subcommands(),
                "{rpc}: `{path}` is a group, not a command"
            );
        }
    }

    #[test]
    fn the_table_names_rpcs_as_grpc_does() {
        let records = records();
        assert_eq!(
            records[0]["rpc"],
            "icr.consent.v1.AccessDecisionService/Authorize"
        );
        assert_eq!(records[0]["command"], "consent-cli authorize");
    }
}
