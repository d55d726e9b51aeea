//! One error and its causes on one line. A leaf: every layer may use it, it uses none.

/// `error: cause: cause`, the way anyhow's `{:#}` prints it; a cause already contained in the
/// text so far is not repeated.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
