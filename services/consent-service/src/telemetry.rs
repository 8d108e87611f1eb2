//! OpenTelemetry: traces and metrics exported over OTLP/gRPC when the
//! standard `OTEL_*` variables ask for it, and nothing at all when not.
//!
//! - **Traces**: one span per RPC ([`rpc`]), a child of the caller's span
//!   when the request carries a W3C `traceparent`. Spans of the service's
//!   own crates (`consent_service`, `icr_*`) at INFO and above are exported,
//!   whatever `RUST_LOG` says about log lines.
//! - **Metrics** ([`metrics`] and the log's own): decisions by outcome and
//!   reason, Authorize latency, append latency, flush duration and batch
//!   size, projection position and lag.
//!
//! Export is on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the signal's own
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `..._METRICS_ENDPOINT`) is set,
//! unless `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER` /
//! `OTEL_METRICS_EXPORTER` is `none`. The exporter and SDK read the other
//! standard variables themselves: `OTEL_EXPORTER_OTLP_HEADERS`,
//! `..._TIMEOUT`, `..._COMPRESSION`, `OTEL_SERVICE_NAME` (default
//! `consent-service`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_METRIC_EXPORT_INTERVAL`, the batch processor's `OTEL_BSP_*`.
//! Only the `grpc` protocol is built in: another `..._PROTOCOL` turns its
//! signal off and is logged as an error naming the variable at start.
//! Telemetry settings never stop the service: access decisions matter more.

pub(crate) mod metrics;
pub mod rpc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The `service.name` reported when neither `OTEL_SERVICE_NAME` nor
/// `OTEL_RESOURCE_ATTRIBUTES` names the service.
const SERVICE_NAME: &str = "consent-service";

/// The installed exporters, if any; [`Telemetry::shutdown`] flushes them.
#[derive(Debug, Default)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
    /// Settings that were not honoured, for the log once it is set up.
    problems: Vec<String>,
}

/// Which signals the environment asks to export, and the settings that
/// could not be honoured.
#[derive(Debug, PartialEq, Eq)]
struct Wanted {
    traces: bool,
    metrics: bool,
    problems: Vec<String>,
}

impl Telemetry {
    /// Reads the `OTEL_*` variables and, if they ask for export, installs
    /// the global meter provider and the W3C trace-context propagator.
    /// Call it inside the Tokio runtime, before the log is opened (its
    /// instruments come from the global provider) and before the tracing
    /// subscriber is set (it needs [`Telemetry::layer`]). A setting it
    /// cannot honour turns its signal off and is kept in
    /// [`Telemetry::problems`]; it never stops the service.
    pub fn from_env() -> Self {
        let Wanted {
            traces,
            metrics,
            mut problems,
        } = wanted(|name| std::env::var(name).ok());
        if !traces && !metrics {
            return Self {
                problems,
                ..Self::default()
            };
        }
        let resource = resource();
        let traces = traces
            .then(|| {
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .build()
                    .map_err(|e| problems.push(format!("traces not exported: {e}")))
                    .ok()
            })
            .flatten()
            .map(|exporter| {
                opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
                SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_batch_exporter(exporter)
                    .build()
            });
        let metrics = metrics
            .then(|| {
                opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .build()
                    .map_err(|e| problems.push(format!("metrics not exported: {e}")))
                    .ok()
            })
            .flatten()
            .map(|exporter| {
                let provider = SdkMeterProvider::builder()
                    .with_resource(resource)
                    .with_periodic_exporter(exporter)
                    .build();
                opentelemetry::global::set_meter_provider(provider.clone());
                provider
            });
        Self {
            traces,
            metrics,
            problems,
        }
    }

    /// Settings that could not be honoured (each turned its signal off),
    /// for the log: [`Telemetry::from_env`] runs before the log is set up.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Whether anything is exported.
    pub fn is_exporting(&self) -> bool {
        self.traces.is_some() || self.metrics.is_some()
    }

    /// The tracing layer that turns the service's spans into OpenTelemetry
    /// spans, when traces are exported.
    pub fn layer<S>(&self) -> Option<impl Layer<S> + use<S>>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        let tracer = self.traces.as_ref()?.tracer(SERVICE_NAME);
        let ours = tracing_subscriber::filter::filter_fn(|meta| {
            let target = meta.target();
            meta.level() <= &tracing::Level::INFO
                && (target.starts_with("consent_service") || target.starts_with("icr_"))
        });
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(ours),
        )
    }

    /// Exports what is buffered and stops the exporters; a failure is
    /// logged, never fatal (the service's own work is done by then).
    pub async fn shutdown(self) {
        if !self.is_exporting() {
            return;
        }
        // The SDK's shutdown blocks until its export thread is done, and
        // that export runs on this runtime: block elsewhere.
        let stopped = tokio::task::spawn_blocking(move || {
            let traces = self.traces.map(|p| p.shutdown());
            let metrics = self.metrics.map(|p| p.shutdown());
            (traces, metrics)
        })
        .await;
        match stopped {
            Ok((traces, metrics)) => {
                for (signal, result) in [("traces", traces), ("metrics", metrics)] {
                    if let Some(Err(error)) = result {
                        tracing::warn!(signal, %error, "OpenTelemetry export did not finish");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "stopping OpenTelemetry export failed"),
        }
    }
}

/// The resource: the SDK's detectors (`OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES`), with our service name unless they give one.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named {
        detected
    } else {
        Resource::builder().with_service_name(SERVICE_NAME).build()
    }
}

/// Decides from the variables (read through `var`) which signals to
/// export. A value this service cannot honour turns its signal off and is
/// reported, as the OpenTelemetry specification asks of SDKs: telemetry
/// settings never stop access decisions.
fn wanted(var: impl Fn(&str) -> Option<String>) -> Wanted {
    let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    let mut problems = Vec::new();
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Wanted {
            traces: false,
            metrics: false,
            problems,
        };
    }
    let any_endpoint = set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let mut signal = |kind: &str, endpoint: &str, exporter: &str| -> bool {
        let chosen = match set(exporter).map(|v| v.trim().to_ascii_lowercase()) {
            None => true,
            Some(v) if v == "otlp" => true,
            Some(v) if v == "none" => false,
            Some(v) => {
                problems.push(format!(
                    "{exporter}={v} is not supported (use otlp or none): not exported"
                ));
                false
            }
        };
        if !chosen || !(any_endpoint || set(endpoint).is_some()) {
            return false;
        }
        for protocol in [
            "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
            format!("OTEL_EXPORTER_OTLP_{kind}_PROTOCOL"),
        ] {
            if let Some(v) = set(&protocol).filter(|v| v.trim() != "grpc") {
                problems.push(format!(
                    "{protocol}={v} is not supported: not exported. This service exports \
                     OTLP over gRPC; set it to grpc (or unset it) and point the endpoint \
                     at the collector's gRPC port (usually 4317)"
                ));
                return false;
            }
        }
        true
    };
    let traces = signal(
        "TRACES",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_TRACES_EXPORTER",
    );
    let metrics = signal(
        "METRICS",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_METRICS_EXPORTER",
    );
    Wanted {
        traces,
        metrics,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted_with(vars: &[(&str, &str)]) -> Wanted {
        wanted(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn both(traces: bool, metrics: bool) -> Wanted {
        Wanted {
            traces,
            metrics,
            problems: Vec::new(),
        }
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert_eq!(wanted_with(&[]), both(false, false));
        assert_eq!(
            wanted_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]),
            both(false, false)
        );
    }

    #[test]
    fn an_endpoint_turns_on_each_signal_it_covers() {
        let all = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        assert_eq!(wanted_with(&[all]), both(true, true));
        let traces = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317");
        assert_eq!(wanted_with(&[traces]), both(true, false));
        let metrics = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://c:4317");
        assert_eq!(wanted_with(&[metrics]), both(false, true));
    }

    #[test]
    fn exporters_and_the_sdk_switch_can_turn_signals_off() {
        let all = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        let off = wanted_with(&[all, ("OTEL_SDK_DISABLED", "TRUE")]);
        assert_eq!(off, both(false, false));
        let no_traces = wanted_with(&[all, ("OTEL_TRACES_EXPORTER", "none")]);
        assert_eq!(no_traces, both(false, true));
        let no_metrics = wanted_with(&[all, ("OTEL_METRICS_EXPORTER", "none")]);
        assert_eq!(no_metrics, both(true, false));
    }

    #[test]
    fn unsupported_values_turn_their_signal_off_naming_the_variable() {
        let all = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        let http = wanted_with(&[all, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]);
        assert!((!http.traces && !http.metrics), "{http:?}");
        assert_eq!(http.problems.len(), 2, "{http:?}");
        assert!(
            http.problems[0]
                .starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf is not supported"),
            "{http:?}"
        );
        let metrics = wanted_with(&[all, ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json")]);
        assert!(metrics.traces && !metrics.metrics, "{metrics:?}");
        assert!(metrics.problems[0].starts_with("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"));
        let zipkin = wanted_with(&[all, ("OTEL_TRACES_EXPORTER", "zipkin")]);
        assert!(!zipkin.traces && zipkin.metrics, "{zipkin:?}");
        assert!(zipkin.problems[0].starts_with("OTEL_TRACES_EXPORTER=zipkin"));
        // A protocol for a signal that is not exported does not matter.
        let ignored = wanted_with(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
        ]);
        assert_eq!(ignored, both(true, false));
    }
}
