//! Real command lines, parsed as clap would parse them for the binary.

use super::*;
use clap::CommandFactory;
use icr_proto::pb::{AccessMode, ObjectionScope, Purpose, RecordSection};

fn parse(line: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("consent-cli").chain(line.iter().copied()))
        .unwrap_or_else(|error| panic!("{line:?} did not parse: {error}"))
}

#[test]
fn the_command_tree_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_flag_is_documented() {
    fn check(command: &clap::Command, path: &str) {
        for arg in command.get_arguments() {
            assert!(
                arg.get_help().is_some(),
                "`{path}` has --{} without help",
                arg.get_id()
            );
        }
        for subcommand in command.get_subcommands() {
            assert!(
                subcommand.get_about().is_some(),
                "`{path} {}` has no about",
                subcommand.get_name()
            );
            check(subcommand, &format!("{path} {}", subcommand.get_name()));
        }
    }
    check(&Cli::command(), "consent-cli");
}

#[test]
fn several_sections_make_one_batch() {
    let cli = parse(&[
        "authorize",
        "--nhs",
        "9434765919",
        "--role",
        "R8000",
        "--org",
        "RKB",
        "--section",
        "medications",
        "allergies",
        "--section",
        "care_plans",
        "--purpose",
        "direct_care",
        "--json",
    ]);
    let Command::Authorize(args) = cli.command else {
        panic!("not authorize: {:?}", cli.command);
    };
    assert_eq!(
        args.sections,
        [
            RecordSection::Medications,
            RecordSection::Allergies,
            RecordSection::CarePlans
        ]
    );
    assert_eq!(args.question.purpose, Purpose::DirectCare);
    assert_eq!(args.question.source_organisation_ods, None);
    assert!(cli.global.json, "a global flag after the subcommand counts");
}

#[test]
fn an_objection_defaults_to_direct_care_by_the_patient_with_a_fresh_request_id() {
    let cli = parse(&["consent", "object", "--nhs", "9434765919"]);
    let Command::Consent(consent::ConsentCommand::Object(args)) = cli.command else {
        panic!("not consent object: {:?}", cli.command);
    };
    assert_eq!(args.scope, ObjectionScope::DirectCare);
    assert_eq!(args.attorney, None);
    assert_eq!(args.write.expected_version, None);
    assert!(ulid::Ulid::from_string(args.write.request_id()).is_ok());
}

#[test]
fn a_retry_keeps_its_request_id_and_expected_version() {
    let cli = parse(&[
        "--endpoint",
        "http://consent:50051",
        "--user",
        "alice",
        "consent",
        "withdraw",
        "--nhs",
        "9434765919",
        "--scope",
        "secondary_use",
        "--attorney",
        "ATT-1",
        "--request-id",
        "01JRETRY",
        "--expected-version",
        "3",
    ]);
    assert_eq!(cli.global.endpoint, "http://consent:50051");
    assert_eq!(cli.global.user, "alice");
    let Command::Consent(consent::ConsentCommand::Withdraw(args)) = cli.command else {
        panic!("not consent withdraw: {:?}", cli.command);
    };
    assert_eq!(args.scope, ObjectionScope::SecondaryUse);
    assert_eq!(args.attorney.as_deref(), Some("ATT-1"));
    assert_eq!(args.write.request_id(), "01JRETRY");
    assert_eq!(args.write.expected_version, Some(3));
}

#[test]
fn nested_groups_and_policy_lists_parse() {
    let cli = parse(&[
        "consent",
        "attorney",
        "register",
        "--nhs",
        "9434765919",
        "--attorney",
        "ATT-1",
        "--kind",
        "court_appointed_deputy",
        "--verified-by",
        "staff-9",
        "--valid-from",
        "2026-01-01",
    ]);
    assert!(matches!(
        cli.command,
        Command::Consent(consent::ConsentCommand::Attorney(_))
    ));
    let cli = parse(&[
        "policy",
        "set-region",
        "--code",
        "QWU",
        "--name",
        "Coventry and Warwickshire",
        "--model",
        "opt_out",
        "--minimum-age",
        "16",
        "--viewing-region",
        "QHL,QJ2",
    ]);
    let Command::Policy(policy::PolicyCommand::SetRegion(args)) = cli.command else {
        panic!("not policy set-region: {:?}", cli.command);
    };
    assert_eq!(args.viewing_regions, ["QHL", "QJ2"]);
    let cli = parse(&["events", "--from", "10", "--limit", "5"]);
    let Command::Events(args) = cli.command else {
        panic!("not events: {:?}", cli.command);
    };
    assert_eq!((args.from_position, args.limit), (10, 5));
}

#[test]
fn wrong_values_are_refused_before_any_call() {
    for line in [
        &[
            "authorize",
            "--nhs",
            "1",
            "--role",
            "R",
            "--org",
            "O",
            "--section",
            "unspecified",
            "--purpose",
            "direct_care",
        ][..],
        &[
            "authorize",
            "--nhs",
            "1",
            "--role",
            "R",
            "--org",
            "O",
            "--section",
            "medications",
            "--purpose",
            "marketing",
        ],
        &[
            "care",
            "register-patient",
            "--nhs",
            "1",
            "--practice",
            "M1",
            "--dob",
            "1970-02-30",
        ],
        &[
            "consent",
            "permission",
            "grant",
            "--nhs",
            "1",
            "--org",
            "RKB",
            "--until",
            "2026-03-31",
        ],
        &[
            "authorize",
            "--nhs",
            "1",
            "--role",
            "R",
            "--org",
            "O",
            "--purpose",
            "direct_care",
        ],
    ] {
        let args = std::iter::once("consent-cli").chain(line.iter().copied());
        assert!(Cli::try_parse_from(args).is_err(), "{line:?} parsed");
    }
}

#[test]
fn replay_filters_parse_into_one_request() {
    let cli = parse(&[
        "events",
        "--follow",
        "--nhs",
        "9434765919",
        "--type",
        "ObjectionRecorded,ObjectionWithdrawn",
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-31T12:00:00Z",
        "--ndjson",
    ]);
    let Command::Events(args) = cli.command else {
        panic!("not events: {:?}", cli.command);
    };
    assert!(args.follow && args.ndjson);
    assert_eq!(
        args.event_types,
        ["ObjectionRecorded", "ObjectionWithdrawn"]
    );
    assert_eq!(
        args.window.since.map(|t| t.to_string()).as_deref(),
        Some("2026-03-01T00:00:00Z")
    );
    let cli = parse(&[
        "audit",
        "trail",
        "--mode",
        "break_glass",
        "--mode",
        "self_claimed_relationship",
    ]);
    let Command::Audit(audit::AuditCommand::Trail(args)) = cli.command else {
        panic!("not audit trail: {:?}", cli.command);
    };
    assert_eq!(
        args.filter.modes,
        [AccessMode::BreakGlass, AccessMode::SelfClaimedRelationship]
    );
}

#[test]
fn audit_at_takes_one_point_and_one_section() {
    let question = [
        "--nhs",
        "9434765919",
        "--role",
        "R8000",
        "--org",
        "RKB",
        "--section",
        "medications",
        "--purpose",
        "direct_care",
    ];
    let line = |point: &[&'static str]| -> Vec<&'static str> {
        ["audit", "at"]
            .into_iter()
            .chain(point.iter().copied())
            .chain(question)
            .collect()
    };
    let cli = parse(&line(&["--position", "42"]));
    let Command::Audit(audit::AuditCommand::At(args)) = cli.command else {
        panic!("not audit at: {:?}", cli.command);
    };
    assert_eq!(
        (args.position, args.section),
        (Some(42), RecordSection::Medications)
    );
    for point in [
        &[][..],
        &["--position", "1", "--time", "2026-01-01T00:00:00Z"],
    ] {
        let words = std::iter::once("consent-cli").chain(line(point));
        assert!(Cli::try_parse_from(words).is_err(), "{point:?} parsed");
    }
}

#[test]
fn verify_needs_exactly_one_source_and_the_key_is_optional() {
    let cli = parse(&[
        "verify",
        "--data-dir",
        "data/consent-service",
        "--public-key",
        "audit.pub.pem",
    ]);
    let Command::Verify(args) = cli.command else {
        panic!("not verify: {:?}", cli.command);
    };
    assert!(args.data_dir.is_some() && !args.server);
    let Command::Verify(unsigned) = parse(&["verify", "--data-dir", "d"]).command else {
        panic!("not verify");
    };
    assert_eq!(
        unsigned.public_key, None,
        "a service without a key can be checked"
    );
    for line in [
        &["verify", "--public-key", "audit.pub.pem"][..],
        &["verify", "--server", "--data-dir", "d", "--public-key", "k"],
        &["verify"],
        &["audit", "review", "01J", "--outcome", "maybe"],
        &["audit", "export", "--format", "csv"],
    ] {
        let words = std::iter::once("consent-cli").chain(line.iter().copied());
        assert!(Cli::try_parse_from(words).is_err(), "{line:?} parsed");
    }
}
