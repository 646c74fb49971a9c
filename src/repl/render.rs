//! Terminal rendering of command outputs: text to stdout, warnings and stderr text to stderr,
//! tables aligned, images as the path of the file they were written to.
use crate::session::Output;

pub fn print_outputs(outputs: &[Output]) {
    for output in outputs {
        match output {
            Output::Stderr(_) | Output::Warning(_) => eprintln!("{}", output.to_text()),
            _ => println!("{}", output.to_text()),
        }
    }
}
