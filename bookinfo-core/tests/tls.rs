//! Outbound TLS (`bookinfo_core::tls`): server certificates are checked against the roots, and
//! the roots are read once, on the first check or when preloaded, not when a client is built.
//! Handshakes run over real sockets against a small TLS server with certificates made for the
//! test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bookinfo_core::tls::{LoadRoots, Roots};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

/// A certificate authority named `ca_name` and a certificate for `localhost` that it signed.
struct Pki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn make_pki(ca_name: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("server key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("server params")
        .signed_by(&key, &issuer)
        .expect("server certificate");
    Pki {
        ca: ca.der().clone(),
        leaf: leaf.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    }
}

/// A TLS server on a port of its own that answers every connection with `ok`.
fn tls_server(pki: &Pki) -> u16 {
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone()], pki.key.clone_key())
        .expect("server certificate and key"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, socket);
            // A client that refuses the certificate ends the handshake; the server goes on.
            if tls.write_all(b"ok").and_then(|()| tls.flush()).is_ok() {
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    });
    port
}

/// One connection with `config`: the server's answer, or why the handshake failed.
fn fetch(config: &Arc<rustls::ClientConfig>, port: u16) -> Result<String, String> {
    let socket = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, socket);
    let mut answer = String::new();
    tls.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer)
}

/// Roots holding `ca` alone, counting how often they are loaded.
fn counted_roots(ca: CertificateDer<'static>, loads: Arc<AtomicUsize>) -> LoadRoots {
    Box::new(move |provider| {
        loads.fetch_add(1, Ordering::SeqCst);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone())?;
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map(|v| v as Arc<dyn ServerCertVerifier>)
            .map_err(|e| rustls::Error::General(e.to_string()))
    })
}

#[test]
fn roots_are_read_at_the_first_check_and_kept() {
    let pki = make_pki("test CA");
    let port = tls_server(&pki);
    let loads = Arc::new(AtomicUsize::new(0));
    let roots = Roots::new(counted_roots(pki.ca.clone(), loads.clone()));
    // Two clients' settings over the same roots, as a service's HTTP client and its span
    // exporter have.
    let first = Arc::new(roots.client_config());
    let second = Arc::new(roots.client_config());
    assert_eq!(loads.load(Ordering::SeqCst), 0, "read before any call");
    for config in [&first, &second, &first] {
        assert_eq!(fetch(config, port).as_deref(), Ok("ok"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1, "read once for three calls");
}

#[test]
fn preloaded_roots_are_not_read_again() {
    let pki = make_pki("test CA");
    let port = tls_server(&pki);
    let loads = Arc::new(AtomicUsize::new(0));
    let roots = Roots::new(counted_roots(pki.ca.clone(), loads.clone()));
    roots
        .preload()
        .expect("a thread for the roots")
        .join()
        .expect("loading finished");
    assert_eq!(loads.load(Ordering::SeqCst), 1, "read by the preload");
    let config = Arc::new(roots.client_config());
    assert_eq!(fetch(&config, port).as_deref(), Ok("ok"));
    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "not read again by the call"
    );
}

#[test]
fn a_server_the_roots_do_not_vouch_for_is_refused() {
    let pki = make_pki("test CA");
    let stranger = make_pki("another CA");
    let port = tls_server(&pki);
    let loads = Arc::new(AtomicUsize::new(0));
    let config = Arc::new(Roots::new(counted_roots(stranger.ca, loads.clone())).client_config());
    let refused = fetch(&config, port).expect_err("a certificate from an unknown CA");
    assert!(refused.contains("UnknownIssuer"), "{refused}");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[test]
fn roots_that_cannot_be_read_fail_each_call_with_the_reason() {
    let pki = make_pki("test CA");
    let port = tls_server(&pki);
    let loads = Arc::new(AtomicUsize::new(0));
    let counter = loads.clone();
    let roots = Roots::new(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Err(rustls::Error::General(
            "No CA certificates were loaded from the system".to_owned(),
        ))
    }));
    let config = Arc::new(roots.client_config());
    for _ in 0..2 {
        let refused = fetch(&config, port).expect_err("no roots, no trust");
        assert!(refused.contains("No CA certificates"), "{refused}");
    }
    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "a failure is not retried per call"
    );
}

#[test]
fn the_system_roots_refuse_a_certificate_they_do_not_hold() {
    let pki = make_pki("test CA");
    let port = tls_server(&pki);
    let config = Arc::new(bookinfo_core::tls::client_config());
    let refused = fetch(&config, port).expect_err("a private CA is in no system's roots");
    // Refused for the unknown issuer, or because the machine has no roots at all.
    assert!(
        refused.contains("UnknownIssuer") || refused.contains("No CA certificates"),
        "{refused}"
    );
}
