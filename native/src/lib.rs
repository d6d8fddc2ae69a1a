//! wirewatch's native parts, the module `streams._native`: each does in one pass over a
//! text's bytes what a pure-Python function beside it does, with exactly the same result.
//! Tests compare the two; without a Rust toolchain the Python ones run alone.

use pyo3::prelude::*;

mod scan;
mod sketch;

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<scan::Scanner>()?;
    module.add_class::<sketch::Sketcher>()?;
    module.add_function(wrap_pyfunction!(sketch::bottom_overlap, module)?)?;
    Ok(())
}
