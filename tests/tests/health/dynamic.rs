//! A gRPC client that knows nothing of the API but what server reflection
//! tells it: it fetches the descriptors, builds messages from JSON and
//! calls a method by name, as grpcurl or a service mesh would.

use std::collections::BTreeMap;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

/// Asks the server for one file by symbol or name; returns the files sent.
async fn ask(channel: Channel, request: MessageRequest) -> Vec<prost_types::FileDescriptorProto> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses.message().await.expect("response").expect("one");
    match response.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => files
            .file_descriptor_proto
            .iter()
            .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("file"))
            .collect(),
        other => panic!("unexpected reflection answer: {other:?}"),
    }
}

/// The descriptors of the file declaring `symbol` and every file it imports,
/// fetched one by one over reflection.
pub(crate) async fn pool_by_reflection(channel: Channel, symbol: &str) -> DescriptorPool {
    let mut files = BTreeMap::new();
    let mut wanted = ask(
        channel.clone(),
        MessageRequest::FileContainingSymbol(symbol.into()),
    )
    .await;
    while let Some(file) = wanted.pop() {
        for dependency in &file.dependency {
            if !files.contains_key(dependency) && !wanted.iter().any(|w| w.name() == dependency) {
                wanted.extend(
                    ask(
                        channel.clone(),
                        MessageRequest::FileByFilename(dependency.clone()),
                    )
                    .await,
                );
            }
        }
        files.insert(file.name().to_owned(), file);
    }
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files.into_values())
        .expect("a consistent set of files");
    pool
}

/// Calls `service/method` with `request` (proto3 JSON); returns the answer
/// as proto3 JSON.
pub(crate) async fn call(
    channel: Channel,
    pool: &DescriptorPool,
    service: &str,
    method: &str,
    request: &serde_json::Value,
) -> Result<serde_json::Value, Status> {
    let service = pool.get_service_by_name(service).expect("service");
    let method = service
        .methods()
        .find(|m| m.name() == method)
        .expect("method");
    let message = DynamicMessage::deserialize(method.input(), request).expect("request JSON");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = format!("/{}/{}", service.full_name(), method.name())
        .parse()
        .expect("path");
    let codec = Dynamic(method.output());
    let response = grpc
        .unary(tonic::Request::new(message), path, codec)
        .await?;
    Ok(serde_json::to_value(response.into_inner()).expect("response JSON"))
}

/// Encodes any message; decodes the one it was made for.
struct Dynamic(MessageDescriptor);

impl Codec for Dynamic {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = Dynamic;
    type Decoder = Dynamic;

    fn encoder(&mut self) -> Self::Encoder {
        Dynamic(self.0.clone())
    }

    fn decoder(&mut self) -> Self::Decoder {
        Dynamic(self.0.clone())
    }
}

impl Encoder for Dynamic {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for Dynamic {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
