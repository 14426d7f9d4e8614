//! The command line of a service binary: `[port]`, `--health-check [port]` or `--help`, and the
//! arguments of the container's main process.

use std::path::Path;

/// The port BookInfo services listen on.
pub const DEFAULT_PORT: u16 = 9080;

/// The flag that turns a service binary into a health check of a running one.
pub const HEALTH_CHECK_FLAG: &str = "--health-check";

/// What a service binary was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `service [port]`: serve on `port`.
    Serve { port: u16 },
    /// `service --health-check [port]`: check a running service; `None` when no port was given.
    HealthCheck { port: Option<u16> },
    /// `service --help` or `-h`.
    Help,
}

/// Parse a service's command line (`args` includes the program name, as `std::env::args`).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let rest: Vec<String> = args.into_iter().skip(1).collect();
    match rest.as_slice() {
        [] => Ok(Command::Serve { port: DEFAULT_PORT }),
        [flag] if flag == "--help" || flag == "-h" => Ok(Command::Help),
        [flag] if flag == HEALTH_CHECK_FLAG => Ok(Command::HealthCheck { port: None }),
        [flag, port] if flag == HEALTH_CHECK_FLAG => Ok(Command::HealthCheck {
            port: Some(parse_port(port)?),
        }),
        [port] => Ok(Command::Serve {
            port: parse_port(port)?,
        }),
        [_, extra, ..] => Err(format!("unexpected argument {extra:?}")),
    }
}

fn parse_port(raw: &str) -> Result<u16, String> {
    raw.parse::<u16>()
        .map_err(|_| format!("invalid port {raw:?}: expected a number from 0 to 65535"))
}

pub(super) fn usage(service: &str) -> String {
    format!(
        "usage: {service} [port]                  serve on port (default {DEFAULT_PORT})\n       \
         {service} {HEALTH_CHECK_FLAG} [port]   exit 0 if GET http://127.0.0.1:port/health \
         answers 2xx, else 1"
    )
}

/// The command line of the container's main process (PID 1), when it is `program` itself.
///
/// In a container started from a BookInfo image the service binary is PID 1 (the image's
/// `ENTRYPOINT`), and the `HEALTHCHECK` process runs in the same PID namespace, so the port the
/// service was given can be read from `/proc/1/cmdline`. `None` anywhere else (on a host PID 1
/// is the init system; under `docker run --init` it is the init shim): callers fall back to
/// their default port.
pub fn container_main_args(program: &str) -> Option<Vec<String>> {
    let raw = std::fs::read("/proc/1/cmdline").ok()?;
    args_of_program(&raw, program)
}

/// The arguments in a NUL-separated command line (the `/proc/<pid>/cmdline` format) when the
/// program file's name is `program`.
pub fn args_of_program(cmdline: &[u8], program: &str) -> Option<Vec<String>> {
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect::<Vec<_>>();
    // A trailing NUL ends the last argument; it does not start an empty one.
    let args = match args.split_last() {
        Some((last, init)) if last.is_empty() => init.to_vec(),
        _ => args,
    };
    let name = Path::new(args.first()?).file_name()?;
    (name == program).then_some(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn first_positional_is_the_port() {
        assert_eq!(
            parse_args(args(&["details"])),
            Ok(Command::Serve { port: 9080 })
        );
        assert_eq!(
            parse_args(args(&["details", "9081"])),
            Ok(Command::Serve { port: 9081 })
        );
        assert!(parse_args(args(&["details", "http"])).is_err());
        assert!(parse_args(args(&["details", "70000"])).is_err());
        assert!(parse_args(args(&["details", "9080", "9081"])).is_err());
    }

    #[test]
    fn health_check_flag_takes_an_optional_port() {
        assert_eq!(
            parse_args(args(&["ratings", "--health-check"])),
            Ok(Command::HealthCheck { port: None })
        );
        assert_eq!(
            parse_args(args(&["ratings", "--health-check", "9090"])),
            Ok(Command::HealthCheck { port: Some(9090) })
        );
        assert!(parse_args(args(&["ratings", "--health-check", "x"])).is_err());
        assert!(parse_args(args(&["ratings", "--health-check", "1", "2"])).is_err());
        // The flag is only recognised first, where a port would be.
        assert!(parse_args(args(&["ratings", "9080", "--health-check"])).is_err());
        assert_eq!(parse_args(args(&["ratings", "--help"])), Ok(Command::Help));
    }

    #[test]
    fn main_process_arguments_are_read_only_for_the_same_program() {
        let cmdline = b"/usr/local/bin/details\x009090\x00";
        assert_eq!(
            args_of_program(cmdline, "details"),
            Some(args(&["/usr/local/bin/details", "9090"]))
        );
        assert_eq!(
            args_of_program(b"/usr/local/bin/details\x00", "details"),
            Some(args(&["/usr/local/bin/details"]))
        );
        // `docker run --init`: PID 1 is the init shim, whose arguments mean something else.
        assert_eq!(
            args_of_program(
                b"/sbin/docker-init\x00--\x00/usr/local/bin/details\x00",
                "details"
            ),
            None
        );
        assert_eq!(args_of_program(b"/sbin/init\x00", "details"), None);
        assert_eq!(args_of_program(b"", "details"), None);
        // A name that merely contains the program's name is another program.
        assert_eq!(args_of_program(b"/bin/details-v2\x00", "details"), None);
    }
}
