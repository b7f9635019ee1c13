//! Load-time check of each session's inputs and outputs against `model.json`'s `tensors` (names, dtypes,
//! ranks, fixed sizes). A mismatch names the graph, what was expected and what the file holds.

use ort::session::Session;
use ort::value::{Outlet, ValueType};

use super::model_info::{Dim, GraphSignature, TensorSpec};

/// Describe a session outlet like `features f32 [1, 64, ?, ?]`.
fn describe_outlet(o: &Outlet) -> String {
    match o.dtype() {
        ValueType::Tensor { ty, shape, dimension_symbols } => {
            let dims: Vec<String> = shape
                .iter()
                .zip(dimension_symbols.iter().map(Some).chain(std::iter::repeat(None)))
                .map(|(d, sym)| match (d, sym) {
                    (d, _) if *d >= 0 => d.to_string(),
                    (_, Some(s)) if !s.is_empty() => s.clone(),
                    _ => "?".to_string(),
                })
                .collect();
            format!("`{}` {} [{}]", o.name(), ty, dims.join(", "))
        }
        other => format!("`{}` {other:?}", o.name()),
    }
}

fn list(outlets: &[Outlet]) -> String {
    outlets.iter().map(describe_outlet).collect::<Vec<_>>().join(", ")
}

/// Why one spec does not match the outlet with its name (None = matches).
fn mismatch(spec: &TensorSpec, o: &Outlet) -> Option<String> {
    let ValueType::Tensor { ty, shape, .. } = o.dtype() else {
        return Some("is not a tensor".into());
    };
    if ty.to_string() != spec.short_dtype() {
        return Some(format!("dtype {} instead of {}", ty, spec.short_dtype()));
    }
    if shape.len() != spec.shape.len() {
        return Some(format!("rank {} instead of {}", shape.len(), spec.shape.len()));
    }
    for (axis, (want, got)) in spec.shape.iter().zip(shape.iter()).enumerate() {
        match want {
            Dim::Fixed(n) if *got >= 0 && *got != *n => return Some(format!("axis {axis} is {got} instead of {n}")),
            // The engine would feed other sizes there (e.g. a batch of crops on `N`) and the graph would refuse.
            Dim::Symbol(sym) if *got >= 0 => {
                return Some(format!(
                    "axis {axis} is fixed at {got} in the graph, model.json declares it `{sym}` (any size)"
                ));
            }
            _ => {}
        }
    }
    None
}

/// Compare a session with its signature; `Err` holds the whole human-readable explanation.
pub fn check_session(session: &Session, sig: &GraphSignature) -> Result<(), String> {
    let mut problems = Vec::new();
    for (kind, specs, outlets) in
        [("input", &sig.inputs, session.inputs()), ("output", &sig.outputs, session.outputs())]
    {
        for spec in specs {
            match outlets.iter().find(|o| o.name() == spec.name) {
                None => problems.push(format!("missing {kind} {}", spec.describe())),
                Some(o) => {
                    if let Some(why) = mismatch(spec, o) {
                        problems.push(format!("{kind} {}: found {} ({why})", spec.describe(), describe_outlet(o)));
                    }
                }
            }
        }
    }
    // Inputs the contract does not know would never be fed.
    for o in session.inputs() {
        if !sig.inputs.iter().any(|s| s.name == o.name()) {
            problems.push(format!("unexpected input {}", describe_outlet(o)));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let expected_in: Vec<String> = sig.inputs.iter().map(TensorSpec::describe).collect();
    let expected_out: Vec<String> = sig.outputs.iter().map(TensorSpec::describe).collect();
    // The first few problems say what is wrong; the full lists show the whole picture.
    let shown = problems.len().min(3);
    let more = if problems.len() > shown { format!(" (and {} more)", problems.len() - shown) } else { String::new() };
    Err(format!(
        "{}{more}; expected inputs {} and outputs {}; found inputs {} and outputs {}",
        problems[..shown].join("; "),
        expected_in.join(", "),
        expected_out.join(", "),
        list(session.inputs()),
        list(session.outputs()),
    ))
}
