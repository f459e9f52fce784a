//! HTTPS beside plain HTTP: browsers grant camera and microphone only to secure contexts, so the
//! meeting page must be served over TLS to people at other desks. The certificate is either the
//! user's (`--tls-cert`/`--tls-key`) or self-signed, generated on first start for this machine's
//! names and addresses, and kept so that its fingerprint (which people compare with what their
//! browser shows) stays the same from one start to the next. A running server checks it again
//! (hourly, and on SIGHUP): a generated one is made anew before it expires or when the machine
//! has a name it lacks, the user's files are read again when they change on disk (a certbot
//! renewal), and new handshakes get the new one without a restart.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// Self-signed, generated into this folder on first start and reused after.
    Generated {
        /// The folder holding `cert.pem` and `key.pem`.
        dir: PathBuf,
    },
    /// The user's own PEM files.
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
}

impl CertSource {
    /// The default folder for generated certificates: `<config dir>/free-meetings/tls`.
    pub fn default_dir() -> PathBuf {
        dirs::config_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("free-meetings")
            .join("tls")
    }
}

/// HTTPS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// TCP port for HTTPS and WSS (0 picks a free one).
    pub port: u16,
    /// The certificate.
    pub source: CertSource,
}

/// Why TLS could not be set up; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A generated certificate or key file is damaged.
    #[error(
        "the TLS file {path} is corrupt ({reason}); delete it and a new certificate is generated at the next start"
    )]
    CorruptGenerated {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A user-supplied file is not usable.
    #[error("{path} is not a usable PEM {what} ({reason})")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// "certificate" or "private key".
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The generated certificate could not be written.
    #[error(
        "cannot write the TLS certificate into {path}: {source} (choose another folder with --tls-dir)"
    )]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Generating failed.
    #[error("cannot generate a TLS certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The certificate and key do not make a TLS configuration (e.g. they do not match).
    #[error("the TLS certificate and key cannot be used together: {0}")]
    Config(#[from] rustls::Error),
    /// A check of the certificate was stopped before it finished (the server was stopping).
    #[error("the TLS certificate check was interrupted: {0}")]
    Interrupted(String),
}

/// The certificate being served, which can be replaced while the server runs: every new
/// handshake takes the one current then, connections already open keep theirs.
pub struct Certificates {
    source: CertSource,
    current: watch::Sender<Arc<Current>>,
    /// The fingerprint alone, for observers outside this module (the mDNS announcement).
    fingerprint: watch::Sender<String>,
}

/// One certificate as read: what rustls serves, what people compare, and the files' stamps, to
/// tell when they change.
#[derive(Debug)]
struct Current {
    certified: Arc<CertifiedKey>,
    served: Served,
    stamp: Stamp,
}

/// What people see of a certificate: its fingerprint and its PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// SHA-256 of the leaf certificate, as browsers show it (`AB:CD:...`).
    pub fingerprint: String,
    /// The certificate file's PEM text (its chain, leaf first), for `/trust` to offer.
    pub pem: String,
}

/// The certificate and key files' modification times and lengths: a certificate renewed by
/// another program (certbot, an administrator's copy) is read again when they change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Vec<Option<(std::time::SystemTime, u64)>>);

impl Stamp {
    fn of(paths: &[&Path]) -> Self {
        Self(
            paths
                .iter()
                .map(|path| {
                    let meta = fs::metadata(path).ok()?;
                    Some((meta.modified().ok()?, meta.len()))
                })
                .collect(),
        )
    }
}

/// What [`Certificates::refresh`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The certificate in use is still good and its files have not changed.
    Unchanged,
    /// A generated certificate was made again (it was near its end, or lacked a name).
    Renewed {
        /// Why, e.g. "it has 12 days left".
        why: String,
    },
    /// The files changed on disk and were read again.
    Reloaded,
}

/// What the handshakes and observers read of [`Certificates`]: the current one.
#[derive(Clone)]
pub struct ServedCertificate(watch::Receiver<Arc<Current>>);

impl ServedCertificate {
    /// The certificate served right now.
    pub fn get(&self) -> Served {
        self.0.borrow().served.clone()
    }
}

impl std::fmt::Debug for ServedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ServedCertificate")
            .field(&self.get().fingerprint)
            .finish()
    }
}

/// As its fingerprint: what pages and the dashboard are given.
impl serde::Serialize for ServedCertificate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.get().fingerprint)
    }
}

#[derive(Debug)]
struct Resolver(watch::Receiver<Arc<Current>>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.borrow().certified.clone())
    }
}

impl Certificates {
    /// Loads the certificate, generating it first where that is the source and none exists
    /// yet, or making it again where the kept one is near its end or lacks a name.
    pub fn load(source: CertSource, names: &CertNames) -> Result<Self, TlsError> {
        renew_generated(&source, names, None)?;
        let current = read(&source)?;
        let (fingerprint, _) = watch::channel(current.served.fingerprint.clone());
        let (current, _) = watch::channel(Arc::new(current));
        Ok(Self {
            source,
            current,
            fingerprint,
        })
    }

    /// The acceptor for the HTTPS listener; it follows every later refresh.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.current.subscribe())));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// The certificate served now and later, for pages and the dashboard.
    pub fn served(&self) -> ServedCertificate {
        ServedCertificate(self.current.subscribe())
    }

    /// The fingerprint, now and after each change.
    pub fn fingerprints(&self) -> watch::Receiver<String> {
        self.fingerprint.subscribe()
    }

    /// Checks the certificate again: a generated one is made anew when near its end or missing
    /// a name of `names`; files changed on disk are read again. On an error the certificate in
    /// use stays. Blocking (key generation, files).
    pub fn refresh(&self, names: &CertNames) -> Result<Refresh, TlsError> {
        let before = self.current.borrow().stamp.clone();
        let leaf = self.current.borrow().certified.cert[0].clone();
        let renewed = renew_generated(&self.source, names, Some(&leaf))?;
        if renewed.is_none() && stamp(&self.source) == before {
            return Ok(Refresh::Unchanged);
        }
        let current = read(&self.source)?;
        let fingerprint = current.served.fingerprint.clone();
        self.current.send_replace(Arc::new(current));
        self.fingerprint.send_if_modified(|old| {
            let changed = *old != fingerprint;
            *old = fingerprint;
            changed
        });
        Ok(match renewed {
            Some(why) => Refresh::Renewed { why },
            None => Refresh::Reloaded,
        })
    }
}

fn paths(source: &CertSource) -> (PathBuf, PathBuf) {
    match source {
        CertSource::Files { cert, key } => (cert.clone(), key.clone()),
        CertSource::Generated { dir } => (dir.join("cert.pem"), dir.join("key.pem")),
    }
}

fn stamp(source: &CertSource) -> Stamp {
    let (cert, key) = paths(source);
    Stamp::of(&[&cert, &key])
}

/// Makes a generated certificate when there is none, or again when the kept one (`in_use`, or
/// else the file) is outdated; says why it did, if it did. The user's own files are left alone.
fn renew_generated(
    source: &CertSource,
    names: &CertNames,
    in_use: Option<&CertificateDer<'static>>,
) -> Result<Option<String>, TlsError> {
    let CertSource::Generated { dir } = source else {
        return Ok(None);
    };
    let (cert, key) = paths(source);
    if !cert.exists() && !key.exists() {
        generate(dir, &cert, &key, names)?;
        return Ok(in_use.map(|_| "its files were deleted".to_owned()));
    }
    let kept = match in_use {
        Some(leaf) => Some(leaf.clone()),
        None => read_certs(&cert).ok().map(|mut certs| certs.remove(0)),
    };
    let Some(why) = kept.and_then(|leaf| outdated(&leaf, names, std::time::SystemTime::now()))
    else {
        return Ok(None);
    };
    if in_use.is_none() {
        // Its fingerprint changes: devices that installed it need the new one (/trust). A
        // running server's refresh says so itself, with the new fingerprint.
        tracing::info!(%why, "renewing the generated TLS certificate");
    }
    generate(dir, &cert, &key, names)?;
    Ok(Some(why))
}

/// Reads the certificate and key as they are on disk.
fn read(source: &CertSource) -> Result<Current, TlsError> {
    let (cert_path, key_path) = paths(source);
    let stamp = stamp(source);
    let (certs, key) = match source {
        CertSource::Files { .. } => {
            let certs = read_certs(&cert_path).map_err(|reason| TlsError::BadFile {
                path: cert_path.clone(),
                what: "certificate",
                reason,
            })?;
            let key = read_key(&key_path).map_err(|reason| TlsError::BadFile {
                path: key_path.clone(),
                what: "private key",
                reason,
            })?;
            (certs, key)
        }
        CertSource::Generated { .. } => {
            let corrupt = |path: &Path| {
                let path = path.to_owned();
                move |reason| TlsError::CorruptGenerated { path, reason }
            };
            (
                read_certs(&cert_path).map_err(corrupt(&cert_path))?,
                read_key(&key_path).map_err(corrupt(&key_path))?,
            )
        }
    };
    let fingerprint = fingerprint(&certs[0]);
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let certified = CertifiedKey::from_der(certs, key, &provider)?;
    Ok(Current {
        certified: Arc::new(certified),
        served: Served {
            fingerprint,
            // Read above as certificates already: only a file changed in between could fail here.
            pem: fs::read_to_string(&cert_path).unwrap_or_default(),
        },
        stamp,
    })
}

/// The names a generated certificate is made for.
#[derive(Debug, Clone, Default)]
pub struct CertNames {
    /// Host names (`office-pc`, `office-pc.local`, `meet.local`, `localhost`).
    pub dns: Vec<String>,
    /// Addresses.
    pub ips: Vec<IpAddr>,
}

impl CertNames {
    /// This machine's names: its host name (plain and `.local`), an mDNS alias, `localhost`,
    /// the LAN addresses and loopback.
    pub fn for_this_machine(hostname: &str, alias: Option<&str>, lan: &[IpAddr]) -> Self {
        let mut dns = vec![hostname.to_owned(), format!("{hostname}.local")];
        if let Some(alias) = alias {
            dns.push(format!("{alias}.local"));
        }
        dns.push("localhost".to_owned());
        let mut ips = lan.to_vec();
        ips.extend([
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        ]);
        dns.dedup();
        ips.dedup();
        Self { dns, ips }
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = fs::read(path).map_err(|e| e.to_string())?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block in it".into());
    }
    // Parse the leaf (with rustls' own certificate parser): PEM armour around garbage would
    // otherwise only fail at the first handshake.
    webpki::EndEntityCert::try_from(&certs[0])
        .map_err(|e| format!("not a valid certificate: {e}"))?;
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let text = fs::read(path).map_err(|e| e.to_string())?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| format!("no usable private key: {e}"))
}

fn generate(
    dir: &Path,
    cert_path: &Path,
    key_path: &Path,
    names: &CertNames,
) -> Result<(), TlsError> {
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    fs::create_dir_all(dir).map_err(write_error(dir))?;
    let mut sans: Vec<String> = names.dns.clone();
    sans.extend(names.ips.iter().map(ToString::to_string));
    let mut params = rcgen::CertificateParams::new(sans)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let common_name = names
        .dns
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Free Meetings on {common_name}"),
    );
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALIDITY_DAYS);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    write_private(key_path, key.serialize_pem().as_bytes()).map_err(write_error(key_path))?;
    fs::write(cert_path, cert.pem()).map_err(write_error(cert_path))?;
    tracing::info!(dir = %dir.display(), "generated a self-signed TLS certificate");
    Ok(())
}

/// How long a generated certificate is valid. Apple's systems refuse a TLS server certificate
/// valid for more than 825 days, even one the user installed and trusts (rcgen's default runs to
/// the year 4096); 397 days is what public ones get.
const VALIDITY_DAYS: i64 = 397;
/// A generated certificate with fewer days left than this is made again at start.
const RENEW_BEFORE_DAYS: u64 = 30;

/// Why a kept generated certificate must be made again, if it must: it expires within
/// `RENEW_BEFORE_DAYS`, or it lacks a name or address of `names` (a new `--public-name`, an
/// address the machine did not have), which browsers would refuse.
fn outdated(
    certificate: &CertificateDer<'_>,
    names: &CertNames,
    now: std::time::SystemTime,
) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(certificate) else {
        return Some("it cannot be read".into());
    };
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let left = parsed.validity().not_after.timestamp() - now;
    if left < (RENEW_BEFORE_DAYS * 86_400) as i64 {
        return Some(format!("it has {} days left", left.max(0) / 86_400));
    }
    let mut dns: Vec<String> = Vec::new();
    let mut ips: Vec<IpAddr> = Vec::new();
    if let Ok(Some(sans)) = parsed.subject_alternative_name() {
        for name in &sans.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => ips.push(IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?)),
                    16 => ips.push(IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?)),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let missing: Vec<String> = names
        .dns
        .iter()
        .filter(|d| !dns.contains(&d.to_ascii_lowercase()))
        .cloned()
        .chain(
            names
                .ips
                .iter()
                .filter(|ip| !ips.contains(ip))
                .map(ToString::to_string),
        )
        .collect();
    (!missing.is_empty()).then(|| format!("it does not name {}", missing.join(", ")))
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents)
}

/// The fingerprint of the first certificate of a PEM text, if it holds one.
pub fn fingerprint_of_pem(pem: &str) -> Option<String> {
    let first = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()?;
    Some(fingerprint(&first))
}

/// SHA-256 of a DER certificate as uppercase hex pairs joined by colons.
pub fn fingerprint(der: &CertificateDer<'_>) -> String {
    Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> CertNames {
        CertNames::for_this_machine("office", Some("meet"), &["10.0.0.5".parse().unwrap()])
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fm-tls-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_generated_certificate_is_kept_and_reused() {
        let dir = temp_dir("reuse");
        let source = CertSource::Generated { dir: dir.clone() };
        let first = Certificates::load(source.clone(), &names())
            .unwrap()
            .served()
            .get()
            .fingerprint;
        let second = Certificates::load(source, &names())
            .unwrap()
            .served()
            .get()
            .fingerprint;
        assert_eq!(first, second);
        assert_eq!(first.len(), 32 * 3 - 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_kept_certificate_is_renewed_for_a_new_name_or_near_its_end_and_lasts_397_days() {
        let dir = temp_dir("renew");
        let source = CertSource::Generated { dir: dir.clone() };
        let first = Certificates::load(source.clone(), &names())
            .unwrap()
            .served()
            .get();
        let der = read_certs(&dir.join("cert.pem")).unwrap().remove(0);
        let now = std::time::SystemTime::now();
        assert_eq!(outdated(&der, &names(), now), None);
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        let days = (parsed.validity().not_after.timestamp()
            - parsed.validity().not_before.timestamp())
            / 86_400;
        assert_eq!(
            days, 398,
            "one day back for clocks a little behind, 397 ahead"
        );
        // 385 days on, 12 days are left, less the moments this test has taken.
        let later = now + std::time::Duration::from_secs(385 * 86_400);
        let why = outdated(&der, &names(), later).unwrap_or_default();
        assert!(
            why == "it has 12 days left" || why == "it has 11 days left",
            "{why}"
        );
        let sooner = now + std::time::Duration::from_secs(360 * 86_400);
        assert_eq!(outdated(&der, &names(), sooner), None, "37 days left: kept");
        let mut more = names();
        more.dns.push("meet.example.org".into());
        more.ips.push(IpAddr::from([10, 0, 0, 9]));
        assert_eq!(
            outdated(&der, &more, now).as_deref(),
            Some("it does not name meet.example.org, 10.0.0.9")
        );
        // At start, a new name gets a new certificate (a new fingerprint) that names it.
        let renewed = Certificates::load(source, &more).unwrap().served().get();
        assert_ne!(renewed.fingerprint, first.fingerprint);
        let der = read_certs(&dir.join("cert.pem")).unwrap().remove(0);
        assert_eq!(outdated(&der, &more, now), None);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_generated_file_is_named_with_what_to_do() {
        let dir = temp_dir("corrupt");
        let source = CertSource::Generated { dir: dir.clone() };
        Certificates::load(source.clone(), &names()).unwrap();
        fs::write(
            dir.join("cert.pem"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let error = Certificates::load(source, &names())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("cert.pem is corrupt"), "{error}");
        assert!(error.contains("delete it"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_refresh_reads_changed_files_again_and_keeps_the_served_one_on_a_bad_file() {
        let (one, two) = (temp_dir("files-one"), temp_dir("files-two"));
        let a = Certificates::load(CertSource::Generated { dir: one.clone() }, &names()).unwrap();
        let b = Certificates::load(CertSource::Generated { dir: two.clone() }, &names()).unwrap();
        let dir = temp_dir("files");
        fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("site.crt"), dir.join("site.key"));
        fs::copy(one.join("cert.pem"), &cert).unwrap();
        fs::copy(one.join("key.pem"), &key).unwrap();
        let files = CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        };
        let certificates = Certificates::load(files, &names()).unwrap();
        let served = certificates.served();
        let mut fingerprints = certificates.fingerprints();
        let resolver = Resolver(certificates.current.subscribe());
        let resolved = || fingerprint(&resolver.0.borrow().certified.cert[0]);
        assert_eq!(served.get(), a.served().get());
        assert_eq!(certificates.refresh(&names()).unwrap(), Refresh::Unchanged);

        fs::copy(two.join("cert.pem"), &cert).unwrap();
        fs::copy(two.join("key.pem"), &key).unwrap();
        assert_eq!(certificates.refresh(&names()).unwrap(), Refresh::Reloaded);
        assert_eq!(served.get(), b.served().get());
        assert_eq!(resolved(), b.served().get().fingerprint);
        assert!(fingerprints.has_changed().unwrap());
        assert_eq!(
            *fingerprints.borrow_and_update(),
            b.served().get().fingerprint
        );

        // A half-written or wrong file: the error says which, and the good one is still served.
        fs::write(&key, "not a key").unwrap();
        let error = certificates.refresh(&names()).unwrap_err().to_string();
        assert!(
            error.contains("site.key is not a usable PEM private key"),
            "{error}"
        );
        assert_eq!(resolved(), b.served().get().fingerprint);
        // A key of another certificate is refused too.
        fs::copy(one.join("key.pem"), &key).unwrap();
        let error = certificates.refresh(&names()).unwrap_err().to_string();
        assert!(error.contains("cannot be used together"), "{error}");
        assert_eq!(served.get(), b.served().get());
        assert!(!fingerprints.has_changed().unwrap());
        for dir in [one, two, dir] {
            let _ = fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn a_refresh_renews_a_generated_certificate_for_a_new_name_and_keeps_a_good_one() {
        let dir = temp_dir("refresh");
        let source = CertSource::Generated { dir: dir.clone() };
        let certificates = Certificates::load(source, &names()).unwrap();
        let first = certificates.served().get();
        assert_eq!(certificates.refresh(&names()).unwrap(), Refresh::Unchanged);
        let mut more = names();
        more.dns.push("meet.example.org".into());
        assert_eq!(
            certificates.refresh(&more).unwrap(),
            Refresh::Renewed {
                why: "it does not name meet.example.org".into()
            }
        );
        let second = certificates.served().get();
        assert_ne!(second.fingerprint, first.fingerprint);
        assert_eq!(
            fs::read_to_string(dir.join("cert.pem")).unwrap(),
            second.pem
        );
        assert_eq!(certificates.refresh(&more).unwrap(), Refresh::Unchanged);
        let _ = fs::remove_dir_all(&dir);
    }
}
