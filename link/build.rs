//! The build script of the four services and the launcher (`build = "../link/build.rs"` in their
//! manifests): each executable is linked with the functions named in `link/functions.order`
//! placed first, in that order, so that the code a running service uses sits together and a
//! service keeps less of its executable in memory (docs/performance.md, “Function order”).
//! `scripts/order-functions.sh` writes the list.
//!
//! Only LLD reads such a list. It is Rust's default linker for `x86_64-unknown-linux-gnu` since
//! Rust 1.90, so the list is passed there only, and only when no other linker was asked for;
//! anywhere else the executables are linked as usual. Where the machine's glibc is 2.36 or newer,
//! the relocation records are also packed, which saves another half megabyte per service.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=BOOKINFO_LINK_MAP");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let Some(dir) = env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let order = PathBuf::from(dir).join("../link/functions.order");
    println!("cargo::rerun-if-changed={}", order.display());
    if !links_with_lld() {
        return;
    }
    if order.is_file() {
        println!(
            "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names of functions this build does not have (the list is shared by the four services,
        // and may be older than the code) are skipped without a word.
        println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    if glibc_reads_relr() {
        // Relative relocations packed (DT_RELR): the loader reads a few KiB instead of the half
        // megabyte of `.rela.dyn` a service had, and those pages no longer stay in memory. The
        // executable then needs glibc 2.36 or newer, a version the loader checks when it starts
        // (docs/performance.md, “Packed relocations”).
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // For `scripts/order-functions.sh`: where each function ended up.
    if let (Some(maps), Ok(name)) = (env::var_os("BOOKINFO_LINK_MAP"), env::var("CARGO_PKG_NAME")) {
        let map = PathBuf::from(maps).join(format!("{name}.map"));
        println!("cargo::rustc-link-arg-bins=-Wl,-Map={}", map.display());
    }
}

/// Whether the executables are linked by LLD: the target is x86_64 Linux (GNU), the compiler is
/// 1.90 or newer, and neither a linker nor linker options were chosen by hand.
fn links_with_lld() -> bool {
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu")
        || env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
        || env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| f.contains("link"))
    {
        return false;
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    output(Command::new(rustc).arg("-vV"))
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .is_some_and(|release| at_least(release, (1, 90)))
}

/// Whether the C library linked against (the one the executables run with on this machine) is
/// glibc 2.36 or newer, the first to apply packed relative relocations.
fn glibc_reads_relr() -> bool {
    output(Command::new("getconf").arg("GNU_LIBC_VERSION"))
        .trim()
        .strip_prefix("glibc ")
        .is_some_and(|version| at_least(version, (2, 36)))
}

/// What `command` printed, or nothing if it could not run.
fn output(command: &mut Command) -> String {
    command
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

/// Whether a `major.minor[.patch][-suffix]` version is at least `wanted`.
fn at_least(version: &str, wanted: (u32, u32)) -> bool {
    let mut parts = version
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= wanted
}
