//! The `details` binary as a process: plain log lines when its output is not a terminal, and a
//! prompt exit on SIGTERM even while a client is still trickling a request.

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starts `details` on a free port with plain-text logs on a pipe: the child, its log lines as
/// they arrive, the lines up to the one that says where it listens, and that port.
fn start_details() -> (Child, mpsc::Receiver<String>, Vec<String>, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_details"))
        .arg("0")
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut output = Vec::new();
    let port = loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        output.push(line.clone());
        if let Some(addr) = line.split("addr=").nth(1) {
            let addr = addr.split_whitespace().next().unwrap();
            break addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
    };
    (child, rx, output, port)
}

#[test]
fn logs_are_plain_text_and_sigterm_does_not_wait_for_a_trickling_client() {
    let (mut child, rx, mut output, port) = start_details();
    // A client that keeps sending header lines and never finishes its request.
    let mut trickle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    trickle
        .write_all(b"GET /details/0 HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let keep_trickling = std::thread::spawn(move || {
        for _ in 0..60 {
            if trickle.write_all(b"X-Trickle: 1\r\n").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut rest = Vec::new();
        let _ = trickle.read_to_end(&mut rest);
    });
    std::thread::sleep(Duration::from_millis(500));
    let stopping = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "still draining a client that never sent a request (the grace period is 15 s)"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        output.push(line);
    }
    let text = output.join("\n");
    assert!(text.contains("SIGTERM received"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log that is not a terminal: {text:?}"
    );
    keep_trickling.join().unwrap();
}

/// Lines are gathered per worker thread and written when it runs out of work: a service that
/// has answered and sits idle has written the access line of every request, none held back.
#[test]
fn an_idle_service_has_written_every_access_line() {
    let (mut child, rx, _, port) = start_details();
    const REQUESTS: usize = 25;
    // Two at a time on their own connections, so that both worker threads serve some.
    let clients: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                for i in 0..REQUESTS {
                    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    let request = format!(
                        "GET /details/{i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                    );
                    conn.write_all(request.as_bytes()).unwrap();
                    let mut answer = String::new();
                    conn.read_to_string(&mut answer).unwrap();
                    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let mut access = 0;
    while access < 2 * REQUESTS {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) else {
            break;
        };
        if line.contains("access: request") && line.contains("status=200") {
            access += 1;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        access,
        2 * REQUESTS,
        "access lines written by the idle service"
    );
}
