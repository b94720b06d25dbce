//! TLS for tests: the test certificates written into a conf dir, and a
//! blocking rustls client that reports which certificate the server sent.

use super::conf::ConfDir;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use serde_json::json;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

pub const CA: &str = include_str!("../data/tls/ca.crt");
pub const EXAMPLE_CRT: &str = include_str!("../data/tls/example.org.crt");
pub const EXAMPLE_KEY: &str = include_str!("../data/tls/example.org.key");
pub const OTHER_CRT: &str = include_str!("../data/tls/other.test.crt");
pub const OTHER_KEY: &str = include_str!("../data/tls/other.test.key");

/// Write `tls_conf/` with two certificates: `example.org` (the default)
/// and `other.test`, which tls_rule_conf also gives to `alias.test`.
/// The bfe.conf must set `HttpsPort = 0` for an ephemeral port.
pub fn write_files(d: &ConfDir) {
    d.write("tls_conf/example.org.crt", EXAMPLE_CRT);
    d.write("tls_conf/example.org.key", EXAMPLE_KEY);
    d.write("tls_conf/other.test.crt", OTHER_CRT);
    d.write("tls_conf/other.test.key", OTHER_KEY);
    d.write_json(
        "tls_conf/server_cert_conf.data",
        &json!({"Version": "t", "Config": {"Default": "example.org", "CertConf": {
            "example.org": {"ServerCertFile": "tls_conf/example.org.crt", "ServerKeyFile": "tls_conf/example.org.key"},
            "other.test": {"ServerCertFile": "tls_conf/other.test.crt", "ServerKeyFile": "tls_conf/other.test.key"}
        }}}),
    );
    d.write_json(
        "tls_conf/tls_rule_conf.data",
        &json!({"Version": "t", "DefaultNextProtos": ["http/1.1"], "Config": {
            "p": {"SniConf": ["alias.test"], "CertName": "other.test", "NextProtos": ["http/1.1"], "Grade": "C", "ClientAuth": false, "ClientCAName": ""}
        }}),
    );
}

pub fn cert(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("test certificate")
}

pub type Tls = StreamOwned<ClientConnection, TcpStream>;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Handshake trusting the test CA and checking `name` against the
/// certificate, sent as SNI. Err when the handshake fails.
pub fn connect_verified(addr: SocketAddr, name: &str) -> Result<Tls, rustls::Error> {
    connect_with(addr, &verified_config(), name)
}

/// A client configuration trusting the test CA. Connections made with the
/// same one share its session cache, so a later handshake can resume.
pub fn verified_config() -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert(CA)).expect("CA");
    let mut conf = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    conf.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(conf)
}

/// Handshake with `conf`, checking `name` against the certificate.
pub fn connect_with(
    addr: SocketAddr,
    conf: &Arc<ClientConfig>,
    name: &str,
) -> Result<Tls, rustls::Error> {
    let name = ServerName::try_from(name.to_string()).expect("name");
    handshake(addr, conf.clone(), name)
}

/// Handshake accepting any certificate; `sni: None` sends no server name.
pub fn connect_any(addr: SocketAddr, sni: Option<&str>) -> Result<Tls, rustls::Error> {
    let mut conf = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny))
        .with_no_client_auth();
    conf.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_string()).expect("name"),
        // rustls sends no SNI for an IP address.
        None => ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
    };
    handshake(addr, Arc::new(conf), name)
}

fn handshake(
    addr: SocketAddr,
    conf: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> Result<Tls, rustls::Error> {
    let tcp = TcpStream::connect(super::client::local(addr)).expect("connect");
    handshake_on(tcp, conf, name)
}

/// Handshake on a connection already open (and maybe already written to,
/// as a PROXY protocol header is), trusting the test CA and checking
/// `name`, sent as SNI.
pub fn connect_verified_on(tcp: TcpStream, name: &str) -> Result<Tls, rustls::Error> {
    let name = ServerName::try_from(name.to_string()).expect("name");
    handshake_on(tcp, verified_config(), name)
}

fn handshake_on(
    tcp: TcpStream,
    conf: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> Result<Tls, rustls::Error> {
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = StreamOwned::new(ClientConnection::new(conf, name)?, tcp);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
    }
    Ok(tls)
}

/// The leaf certificate the server presented.
pub fn presented(t: &Tls) -> CertificateDer<'static> {
    t.conn.peer_certificates().expect("certificates")[0].clone()
}

/// Send `req` and read until the server closes (or 5 s pass).
pub fn exchange(t: &mut Tls, req: &[u8]) -> Vec<u8> {
    t.write_all(req).expect("write");
    super::client::read_to_close(t)
}

#[derive(Debug)]
struct AcceptAny;

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
