//! CareContextService: GP registrations and care relationships.

use icr_proto::pb::care_context_service_server::CareContextService;
use icr_proto::pb::*;
use tonic::{Request, Response, Status};

use super::servers::Handle;
use crate::Storage;

#[tonic::async_trait]
impl<L: Storage> CareContextService for Handle<L> {
    async fn register_patient(
        &self,
        request: Request<RegisterPatientRequest>,
    ) -> Result<Response<RegisterPatientResponse>, Status> {
        self.write(request).await
    }

    async fn start_care_relationship(
        &self,
        request: Request<StartCareRelationshipRequest>,
    ) -> Result<Response<StartCareRelationshipResponse>, Status> {
        self.write(request).await
    }

    async fn end_care_relationship(
        &self,
        request: Request<EndCareRelationshipRequest>,
    ) -> Result<Response<EndCareRelationshipResponse>, Status> {
        self.write(request).await
    }
}
