//! Why an engine could not be built: the one error the engine, its model
//! check and the rules parser share.

/// Why an engine could not be built from a model, rules and policy. The
/// service then has no engine and denies every request until a policy change
/// builds again.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// casbin rejected the model or a policy line.
    #[error("casbin: {0}")]
    Casbin(#[from] casbin::Error),
    /// The model is not the shape the engine feeds, or its matcher calls a
    /// function that is not registered or could panic.
    #[error("model: {0}")]
    Model(String),
    /// A deny rule is malformed or names a fact no request carries.
    #[error("rule {line}: {message}")]
    Rule {
        /// 1-based line in the rules file.
        line: usize,
        /// What is wrong.
        message: String,
    },
}
