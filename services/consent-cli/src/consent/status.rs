//! `consent status`: what a patient's consent adds up to now, and the
//! stream version to pass as `--expected-version` to the next change.

use anyhow::Result;
use clap::Args;
use icr_proto::pb::consent_service_client::ConsentServiceClient;
use icr_proto::pb::{
    CareRelationshipKind, GetConsentStatusRequest, GetConsentStatusResponse, ObjectionScope,
    PowerOfAttorneyKind,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::caller::Caller;
use crate::dates;
use crate::failure::CallContext;
use crate::names;
use crate::output::{self, Output};

/// Arguments of `consent status`.
#[derive(Args, Debug, Clone)]
pub(crate) struct StatusArgs {
    /// NHS number of the patient.
    #[arg(long = "nhs", value_name = "NHS_NUMBER", value_parser = crate::codes::nhs_number)]
    pub(crate) nhs_number: String,
    /// Answer only once the service has applied this log position, e.g. the
    /// one a write just printed; 0 means no minimum.
    #[arg(long = "min-position", value_name = "POSITION", default_value_t = 0)]
    pub(crate) min_log_position: u64,
}

/// Fields of the patient summary, in the order people read them.
const SUMMARY_FIELDS: &[&str] = &[
    "nhs_number",
    "registered",
    "gp_practice_ods",
    "date_of_birth",
    "active_objections",
    "stream_version",
    "log_position",
];

/// The lists in a status, each with its title and columns.
const LISTS: &[(&str, &str, &[&str])] = &[
    (
        "powers_of_attorney",
        "Powers of attorney",
        &[
            "attorney_id",
            "kind",
            "verified_by",
            "valid_from",
            "valid_until",
        ],
    ),
    (
        "care_relationships",
        "Care relationships",
        &["relationship_id", "organisation_ods", "kind"],
    ),
    (
        "permissions_to_view",
        "Permissions to view",
        &["organisation_ods", "until"],
    ),
];

/// Reads the patient's consent status.
pub(crate) async fn consent_status(
    channel: Channel,
    caller: &Caller,
    args: &StatusArgs,
) -> Result<GetConsentStatusResponse> {
    let request = GetConsentStatusRequest {
        nhs_number: args.nhs_number.clone(),
        min_log_position: args.min_log_position,
    };
    let call = CallContext::patient_read(&args.nhs_number);
    let response = ConsentServiceClient::new(channel)
        .get_consent_status(caller.request(request))
        .await
        .map_err(|status| call.rejected(status))?;
    Ok(response.into_inner())
}

/// Runs `consent status` and prints it: a summary, then one table per list
/// (or one JSON object holding the lists).
pub(crate) async fn run(
    channel: Channel,
    caller: &Caller,
    args: &StatusArgs,
    output: Output,
) -> Result<()> {
    let status = consent_status(channel, caller, args).await?;
    let record = status_record(&status);
    if output.is_json() {
        output::json_line(&record)?;
        return Ok(());
    }
    let mut text = output::render_record(SUMMARY_FIELDS, &record);
    for (field, title, columns) in LISTS {
        let rows = record[*field]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        text.push('\n');
        text.push_str(title);
        text.push('\n');
        text.push_str(&output::render_records(columns, rows));
    }
    output::write_text(&text)?;
    Ok(())
}

/// The status as one record, lists nested.
fn status_record(status: &GetConsentStatusResponse) -> Value {
    let attorneys: Vec<Value> = status
        .powers_of_attorney
        .iter()
        .map(|attorney| {
            json!({
                "attorney_id": attorney.attorney_id,
                "kind": names::short_name_of::<PowerOfAttorneyKind>(attorney.kind),
                "verified_by": attorney.verified_by,
                "valid_from": attorney.valid_from,
                "valid_until": attorney.valid_until,
            })
        })
        .collect();
    let relationships: Vec<Value> = status
        .care_relationships
        .iter()
        .map(|relationship| {
            json!({
                "relationship_id": relationship.relationship_id,
                "organisation_ods": relationship.organisation_ods,
                "kind": names::short_name_of::<CareRelationshipKind>(relationship.kind),
            })
        })
        .collect();
    let permissions: Vec<Value> = status
        .permissions_to_view
        .iter()
        .map(|permission| {
            json!({
                "organisation_ods": permission.organisation_ods,
                "until": dates::format_timestamp(permission.until.as_ref()),
            })
        })
        .collect();
    json!({
        "nhs_number": status.nhs_number,
        "registered": status.registered,
        "gp_practice_ods": status.gp_practice_ods,
        "date_of_birth": status.date_of_birth,
        "active_objections": names::short_names_of::<ObjectionScope>(&status.active_objections),
        "powers_of_attorney": attorneys,
        "care_relationships": relationships,
        "permissions_to_view": permissions,
        "stream_version": status.stream_version,
        "log_position": status.log_position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use icr_proto::pb::PermissionToView;

    #[test]
    fn the_status_record_nests_its_lists_with_short_names() {
        let status = GetConsentStatusResponse {
            nhs_number: "9434765919".to_owned(),
            registered: true,
            active_objections: vec![ObjectionScope::SecondaryUse.into()],
            permissions_to_view: vec![PermissionToView {
                organisation_ods: "RKB".to_owned(),
                until: dates::parse_timestamp("2026-03-31T23:59:59Z").ok(),
            }],
            stream_version: 4,
            ..Default::default()
        };
        let record = status_record(&status);
        assert_eq!(record["active_objections"], json!(["secondary_use"]));
        assert_eq!(
            record["permissions_to_view"][0]["until"],
            "2026-03-31T23:59:59Z"
        );
        assert_eq!(record["powers_of_attorney"], json!([]));
        assert_eq!(record["stream_version"], 4);
    }
}
