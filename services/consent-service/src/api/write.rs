//! The one path every write RPC takes: the request proposes an event
//! ([`WriteRequest`], implemented once per request type in its service's
//! file, beside the tonic method), the request id and expected stream
//! version come out of it, what is left is fingerprinted, and the command
//! runs through [`crate::writes`].

use std::future::Future;

use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{EventPayload, WriteResult};
use prost::Message;
use tokio::sync::MutexGuard;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use super::Api;
use super::servers::Handle;
use crate::Storage;
use crate::status::ServiceResult;
use crate::validate;
use crate::writes::{self, Command, actor, fingerprint};

/// What every write request carries around its content: its RPC's name,
/// the ids taken out before hashing, its user, and the response that
/// carries its result. Declared by [`envelopes!`], one row per RPC in its
/// service's file.
pub(crate) trait Envelope: Message + Sized + Send + 'static {
    /// The RPC's name, hashed into the fingerprint: a request id reused by
    /// another RPC is not a retry.
    const RPC: &'static str;
    /// The RPC's response.
    type Response: Send + 'static;

    /// Takes out the request id and the expected stream version. Neither is
    /// part of what the request asks for (a retry may re-read the stream
    /// version), so both stay out of the fingerprint.
    fn take_ids(&mut self) -> (String, Option<u64>);

    /// The user named in the request.
    fn user_id(&self) -> &str;

    /// The response carrying `result`.
    fn response(result: WriteResult) -> Self::Response;
}

/// A write RPC's request, and the event it proposes.
pub(crate) trait WriteRequest: Envelope {
    /// Validates the request, rewriting identifiers in place to their one
    /// form, and builds the event it proposes.
    fn propose<'a, L: Storage>(
        &mut self,
        api: &'a Api<L>,
    ) -> impl Future<Output = ServiceResult<Proposal<'a>>> + Send;

    /// The response to a request whose write succeeded.
    fn respond<L: Storage>(&self, _api: &Api<L>, result: WriteResult) -> Self::Response {
        Self::response(result)
    }
}

/// The event a request proposes, and for whom.
pub(crate) struct Proposal<'a> {
    /// The proposed event.
    pub(crate) payload: EventPayload,
    /// The patient an attorney acts for, or empty.
    pub(crate) on_behalf_of: String,
    /// Held until the write is done, for writes that must not interleave.
    pub(crate) serialised: Option<MutexGuard<'a, ()>>,
}

impl Proposal<'_> {
    /// A proposal made by the user themself.
    pub(crate) fn of(payload: EventPayload) -> Self {
        Self {
            payload,
            on_behalf_of: String::new(),
            serialised: None,
        }
    }
}

/// Implements [`Envelope`] for each write request, from one line per RPC:
/// `Request: "RpcName" => Response`, marked `unversioned` when the request
/// has no expected stream version. Each service's file lists its own.
macro_rules! envelopes {
    ($($request:ident: $rpc:literal => $response:ident $(, $unversioned:ident)?;)*) => {$(
        impl $crate::api::write::Envelope for $request {
            const RPC: &'static str = $rpc;
            type Response = $response;

            $crate::api::write::envelopes!(@take_ids $($unversioned)?);

            fn user_id(&self) -> &str {
                &self.user_id
            }

            // One response (RegisterPatient's) has more than the result.
            #[allow(clippy::needless_update)]
            fn response(result: ::icr_proto::pb::WriteResult) -> $response {
                $response {
                    result: Some(result),
                    ..Default::default()
                }
            }
        }
    )*};
    (@take_ids) => {
        fn take_ids(&mut self) -> (String, Option<u64>) {
            (std::mem::take(&mut self.request_id), self.expected_stream_version.take())
        }
    };
    (@take_ids unversioned) => {
        fn take_ids(&mut self) -> (String, Option<u64>) {
            (std::mem::take(&mut self.request_id), None)
        }
    };
}
pub(crate) use envelopes;

/// The event payload of `kind`.
pub(crate) fn payload(kind: Kind) -> EventPayload {
    EventPayload { kind: Some(kind) }
}

/// A proposal an attorney may make for the patient `nhs_number`.
pub(crate) fn submitted(kind: Kind, attorney_id: &str, nhs_number: &str) -> Proposal<'static> {
    Proposal {
        on_behalf_of: if attorney_id.is_empty() {
            String::new()
        } else {
            nhs_number.to_owned()
        },
        ..Proposal::of(payload(kind))
    }
}

impl<L: Storage> Api<L> {
    /// Turns `req` into the command it asks for. The returned guard, if
    /// any, is to be held until the command has run.
    pub(crate) async fn command<'a, R: WriteRequest>(
        &'a self,
        metadata: &MetadataMap,
        req: &mut R,
    ) -> ServiceResult<(Command, Option<MutexGuard<'a, ()>>)> {
        let proposal = req.propose(self).await?;
        let (request_id, expected_version) = req.take_ids();
        validate::id("request_id", &request_id)?;
        let command = Command {
            request_id,
            fingerprint: fingerprint(R::RPC, req),
            expected_version,
            actor: actor(metadata, req.user_id(), &proposal.on_behalf_of)?,
            payload: proposal.payload,
        };
        Ok((command, proposal.serialised))
    }

    /// Runs a write RPC: the command `req` asks for, then its response.
    async fn write_request<R: WriteRequest>(
        &self,
        metadata: &MetadataMap,
        mut req: R,
    ) -> ServiceResult<R::Response> {
        let (command, _serialised) = self.command(metadata, &mut req).await?;
        let result = writes::execute(&self.log, &self.view, &self.aggregates, command).await?;
        Ok(req.respond(self, result))
    }
}

impl<L: Storage> Handle<L> {
    /// The body of every write RPC.
    pub(crate) async fn write<R: WriteRequest>(
        &self,
        request: Request<R>,
    ) -> Result<Response<R::Response>, Status> {
        let (metadata, _, req) = request.into_parts();
        Ok(Response::new(self.0.write_request(&metadata, req).await?))
    }
}

#[cfg(test)]
mod tests;
