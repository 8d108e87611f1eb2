//! A record server that releases a section of a patient's record only when
//! the consent service allows it: `GET /patients/{nhs}/sections/{section}`,
//! with the viewer named by the `x-user-id`, `x-role-code` and
//! `x-organisation` headers its portal's login sets.
//!
//! ```sh
//! cargo run                                    # the consent service
//! cargo run -p icr-client --example record_server
//! curl -i localhost:8080/patients/9434765919/sections/medications \
//!   -H 'x-user-id: dr-1' -H 'x-role-code: R8000' -H 'x-organisation: RKB'
//! ```

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use icr_client::pb::{RecordSection, Requester};
use icr_client::{AuthorizeLayer, Client, Question};
use tonic::codegen::http::request::Parts;

/// The question a request raises: whose record, which section, who asks.
/// Anything missing or malformed is no question, and so a refusal.
fn question(parts: &Parts) -> Option<Question> {
    let mut path = parts.uri.path().trim_start_matches('/').split('/');
    let (Some("patients"), Some(nhs), Some("sections"), Some(section), None) = (
        path.next(),
        path.next(),
        path.next(),
        path.next(),
        path.next(),
    ) else {
        return None;
    };
    let section =
        RecordSection::from_str_name(&format!("RECORD_SECTION_{}", section.to_uppercase()))?;
    let header = |name: &str| Some(parts.headers.get(name)?.to_str().ok()?.to_owned());
    let requester = Requester {
        user_id: header("x-user-id")?,
        role_code: header("x-role-code")?,
        organisation_ods: header("x-organisation")?,
    };
    Some(Question::new(nhs, section, requester))
}

/// The record server's handler: reached only after an ALLOW.
async fn section(Path((nhs, section)): Path<(String, String)>) -> String {
    format!("{section} of {nhs}: (the record system's data)\n")
}

/// The record server, every route behind the consent check.
pub(crate) fn router(client: Client) -> Router {
    Router::new()
        .route("/patients/{nhs}/sections/{section}", get(section))
        .layer(AuthorizeLayer::new(client, question))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint =
        std::env::var("ICR_CONSENT_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:50051".into());
    let channel = tonic::transport::Channel::from_shared(endpoint)?.connect_lazy();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("record server on http://{}", listener.local_addr()?);
    axum::serve(listener, router(Client::new(channel))).await?;
    Ok(())
}
