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
//! Only the `grpc` protocol is built in: another `..._PROTOCOL` stops the
//! start with a message naming the variable, rather than export nothing.

pub(crate) mod metrics;
pub(crate) mod rpc;

use anyhow::{Context, bail};
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
}

/// Which signals the environment asks to export.
#[derive(Debug, PartialEq, Eq)]
struct Wanted {
    traces: bool,
    metrics: bool,
}

impl Telemetry {
    /// Reads the `OTEL_*` variables and, if they ask for export, installs
    /// the global meter provider and the W3C trace-context propagator.
    /// Call it inside the Tokio runtime, before the log is opened (its
    /// instruments come from the global provider) and before the tracing
    /// subscriber is set (it needs [`Telemetry::layer`]). A variable with a
    /// value this service cannot honour is an error naming it.
    pub fn from_env() -> anyhow::Result<Self> {
        let wanted = wanted(|name| std::env::var(name).ok())?;
        if !wanted.traces && !wanted.metrics {
            return Ok(Self::default());
        }
        let resource = resource();
        let traces = if wanted.traces {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
                .context("OTLP trace exporter (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT)")?;
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            Some(
                SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_batch_exporter(exporter)
                    .build(),
            )
        } else {
            None
        };
        let metrics = if wanted.metrics {
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .build()
                .context("OTLP metric exporter (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT)")?;
            let provider = SdkMeterProvider::builder()
                .with_resource(resource)
                .with_periodic_exporter(exporter)
                .build();
            opentelemetry::global::set_meter_provider(provider.clone());
            Some(provider)
        } else {
            None
        };
        Ok(Self { traces, metrics })
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

/// Decides from the variables (read through `var`) which signals to export.
fn wanted(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Wanted> {
    let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(Wanted {
            traces: false,
            metrics: false,
        });
    }
    let any_endpoint = set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let signal = |kind: &str, endpoint: &str, exporter: &str| -> anyhow::Result<bool> {
        let on = match set(exporter).map(|v| v.trim().to_ascii_lowercase()) {
            None => true,
            Some(v) if v == "otlp" => true,
            Some(v) if v == "none" => false,
            Some(v) => bail!("{exporter}={v} is not supported: use otlp or none"),
        };
        let on = on && (any_endpoint || set(endpoint).is_some());
        if on {
            for protocol in [
                "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
                format!("OTEL_EXPORTER_OTLP_{kind}_PROTOCOL"),
            ] {
                if let Some(v) = set(&protocol).filter(|v| v.trim() != "grpc") {
                    bail!(
                        "{protocol}={v} is not supported: this service exports OTLP over gRPC; \
                         set it to grpc (or unset it) and point the endpoint at the \
                         collector's gRPC port (usually 4317)"
                    );
                }
            }
        }
        Ok(on)
    };
    Ok(Wanted {
        traces: signal(
            "TRACES",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_TRACES_EXPORTER",
        )?,
        metrics: signal(
            "METRICS",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_METRICS_EXPORTER",
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted_with(vars: &[(&str, &str)]) -> anyhow::Result<Wanted> {
        wanted(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn both(traces: bool, metrics: bool) -> Wanted {
        Wanted { traces, metrics }
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert_eq!(wanted_with(&[]).unwrap(), both(false, false));
        assert_eq!(
            wanted_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).unwrap(),
            both(false, false)
        );
    }

    #[test]
    fn an_endpoint_turns_on_each_signal_it_covers() {
        let all = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        assert_eq!(wanted_with(&[all]).unwrap(), both(true, true));
        let traces = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317");
        assert_eq!(wanted_with(&[traces]).unwrap(), both(true, false));
        let metrics = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://c:4317");
        assert_eq!(wanted_with(&[metrics]).unwrap(), both(false, true));
    }

    #[test]
    fn exporters_and_the_sdk_switch_can_turn_signals_off() {
        let all = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        let off = wanted_with(&[all, ("OTEL_SDK_DISABLED", "TRUE")]).unwrap();
        assert_eq!(off, both(false, false));
        let no_traces = wanted_with(&[all, ("OTEL_TRACES_EXPORTER", "none")]).unwrap();
        assert_eq!(no_traces, both(false, true));
        let no_metrics = wanted_with(&[all, ("OTEL_METRICS_EXPORTER", "none")]).unwrap();
        assert_eq!(no_metrics, both(true, false));
    }

    #[test]
    fn unsupported_values_are_refused_naming_the_variable() {
        let all = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        let http = wanted_with(&[all, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]);
        assert!(
            http.unwrap_err()
                .to_string()
                .starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf is not supported"),
        );
        let metrics = wanted_with(&[all, ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json")]);
        assert!(
            metrics
                .unwrap_err()
                .to_string()
                .contains("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
        );
        let zipkin = wanted_with(&[all, ("OTEL_TRACES_EXPORTER", "zipkin")]);
        assert!(
            zipkin
                .unwrap_err()
                .to_string()
                .contains("OTEL_TRACES_EXPORTER")
        );
        // A protocol for a signal that is not exported does not matter.
        let ignored = wanted_with(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
        ]);
        assert_eq!(ignored.unwrap(), both(true, false));
    }
}
