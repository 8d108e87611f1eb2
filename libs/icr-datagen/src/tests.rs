use super::*;
use icr_projections::Projections;

fn population(patients: u32) -> Population {
    Population::new(Profile {
        patients,
        ..Profile::default()
    })
    .expect("population")
}

#[test]
fn the_same_profile_gives_the_same_events_and_the_mix_asked_for() {
    let a: Vec<_> = population(2000).events().collect();
    let b: Vec<_> = population(2000).events().collect();
    assert_eq!(a, b);
    let objections = a
        .iter()
        .filter(|(_, e)| matches!(e.kind, Some(Kind::ObjectionRecorded(_))))
        .count();
    assert!((30..=90).contains(&objections), "about 3 %: {objections}");
}

#[test]
fn generated_events_fold_into_projections_with_every_patient() {
    let population = population(500);
    let mut projections = Projections::default();
    for event in population.recorded() {
        projections.apply(&event).expect("in order");
    }
    assert_eq!(projections.patient_count(), 500);
}

#[tokio::test]
async fn generated_events_are_written_durably_and_a_repeat_adds_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = SledLog::open(dir.path()).expect("open");
    let population = population(100);
    let total = population.events().count() as u64;
    assert_eq!(population.write(&log, 64).await.expect("write"), total);
    assert_eq!(population.write(&log, 64).await.expect("again"), total);
    assert_eq!(log.head(), total);
    assert!(log.verify(None).expect("read").is_ok(), "the chains hold");
}
