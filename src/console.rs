//! Lines for the console (stdout and stderr) that never panic. `println!` panics when stdout is closed
//! (`cratemill publish ... | head -1`); a closed or full stdout must stop the output, never the phase:
//! the package folder, `result.json` and `publish.json` are the record, stdout is a courtesy.
//! An I/O edge, deliberately without an error path.

use std::io::Write;

/// Write one line to stdout; a broken pipe or any other write error is ignored.
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Write one line to stderr; a closed or broken stderr is ignored (`eprintln!` panics on it).
pub fn err_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// `eprintln!` that never panics: formats its arguments and writes them with [`err_line`].
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::console::err_line(&format!($($arg)*))
    };
}
