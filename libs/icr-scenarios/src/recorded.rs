//! `then.recorded`: the decision is in the patient's access report, read
//! back from the service with `GetAccessReport` as a patient's report is.

use icr_proto::pb;

use crate::apply::{Clients, USER, call};
use crate::format::When;
use crate::names::code_name;

/// Records per page asked for (the most the service serves).
const PAGE_SIZE: u32 = 1000;

/// Finds `decision` in the access report of the patient `when` asked about
/// (every page) and checks that its record says who asked for which
/// section and what they were told.
pub(crate) async fn check(
    clients: &mut Clients,
    when: &When,
    decision: &pb::Decision,
) -> Result<(), String> {
    let mut page_token = String::new();
    loop {
        #[allow(
            clippy::needless_update,
            reason = "the request only ever gains fields, whose defaults ask for every record"
        )]
        let request = pb::GetAccessReportRequest {
            nhs_number: when.nhs.clone(),
            page_size: PAGE_SIZE,
            page_token,
            ..Default::default()
        };
        let page = clients
            .audit
            .get_access_report(call(request))
            .await
            .map_err(|s| {
                let code = code_name(s.code());
                format!(
                    "then recorded: GetAccessReport failed: {code}: {}",
                    s.message()
                )
            })?
            .into_inner();
        let found = page
            .records
            .iter()
            .find(|r| r.decision_id == decision.decision_id);
        if let Some(record) = found {
            return as_decided(record, when, decision);
        }
        if page.next_page_token.is_empty() {
            return Err(format!(
                "then recorded: decision {} is not in the patient's access report",
                decision.decision_id
            ));
        }
        page_token = page.next_page_token;
    }
}

/// Whether the record names the requester, the section and the answer
/// given; every difference is listed.
fn as_decided(
    record: &pb::DecisionRecord,
    when: &When,
    decision: &pb::Decision,
) -> Result<(), String> {
    let user = when.user.as_deref().unwrap_or(USER);
    let allowed = decision.outcome == i32::from(pb::Outcome::Allow);
    let checks: [(&str, String, String); 6] = [
        ("user_id", record.user_id.clone(), user.to_owned()),
        ("role_code", record.role_code.clone(), when.role.clone()),
        (
            "organisation_ods",
            record.organisation_ods.clone(),
            when.org.clone(),
        ),
        (
            "section",
            record.section.to_string(),
            decision.section.to_string(),
        ),
        ("allowed", record.allowed.to_string(), allowed.to_string()),
        ("reason", record.reason.clone(), decision.reason.clone()),
    ];
    let differences: Vec<String> = checks
        .iter()
        .filter(|(_, got, wanted)| got != wanted)
        .map(|(field, got, wanted)| format!("{field} is {got:?}, not {wanted:?}"))
        .collect();
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "then recorded: the access report's record of decision {}: {}",
            decision.decision_id,
            differences.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ScenarioFile;

    const SCENARIO: &str = r#"
[[scenario]]
name = "recorded"
when = { nhs = "9434765919", role = "R8000", org = "RKB", section = "medications", user = "dr-a" }
then = { outcome = "allow", recorded = true }
"#;

    fn when() -> When {
        let file = ScenarioFile::from_toml(SCENARIO, "recorded.toml").expect("parses");
        file.scenarios[0].when.clone()
    }

    fn decision() -> pb::Decision {
        pb::Decision {
            decision_id: "01JDECISION0000000000000000".into(),
            section: pb::RecordSection::Medications.into(),
            outcome: pb::Outcome::Allow.into(),
            reason: "role_permits_section".into(),
            ..Default::default()
        }
    }

    fn record() -> pb::DecisionRecord {
        pb::DecisionRecord {
            decision_id: "01JDECISION0000000000000000".into(),
            user_id: "dr-a".into(),
            role_code: "R8000".into(),
            organisation_ods: "RKB".into(),
            section: pb::RecordSection::Medications.into(),
            allowed: true,
            reason: "role_permits_section".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_record_saying_what_was_decided_passes() {
        assert_eq!(as_decided(&record(), &when(), &decision()), Ok(()));
    }

    #[test]
    fn a_record_that_differs_names_each_difference() {
        let other = pb::DecisionRecord {
            user_id: "dr-b".into(),
            allowed: false,
            ..record()
        };
        assert_eq!(
            as_decided(&other, &when(), &decision()),
            Err("then recorded: the access report's record of decision \
                 01JDECISION0000000000000000: user_id is \"dr-b\", not \"dr-a\"; \
                 allowed is \"false\", not \"true\""
                .to_owned())
        );
    }
}
