//! The Python package `edgehook_verify`'s native module `_native`: the `Webhook` class over edgehook's one verification core.
//!
//! Everything that decides (secrets and public keys, which header set, the timestamp window, the
//! signatures) is `edgehook_sdk::Verifier`, the code the worker signs with and the npm package
//! verifies with. This file only reads Python values (the raw body, a headers mapping), calls the
//! core, parses the verified body with Python's own `json.loads`, and maps the outcome to the
//! Python types of `edgehook_verify/_types.py` (`VerifiedEvent`, `WebhookVerificationError`).

use edgehook_sdk::{Headers, Scheme, SecretError, Verified, Verifier, VerifyError, header};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::{Interned, PyOnceLock};
use pyo3::types::{PyBytes, PyDict, PyString, PyType};
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::time::{SystemTime, UNIX_EPOCH};

/// The Python module holding the package's own Python types.
const TYPES: &str = "edgehook_verify._types";

static VERIFIED_EVENT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static VERIFICATION_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JSON_DECODER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Verifies edgehook webhooks with one destination's secrets or public keys.
///
/// `Webhook(secret, tolerance_seconds=300)`: `secret` is a `whsec_…` secret or a `whpk_…`
/// public key, or a list of them (newest first) while the sender rotates. Build it once per
/// process or per request: construction parses the keys, which is cheap.
#[pyclass(module = "edgehook_verify", frozen)]
pub struct Webhook {
    verifier: Verifier,
}

#[pymethods]
impl Webhook {
    #[new]
    #[pyo3(signature = (secret, tolerance_seconds = 300))]
    fn new(secret: &Bound<'_, PyAny>, tolerance_seconds: u32) -> PyResult<Self> {
        let py = secret.py();
        let keys = key_texts(secret)
            .map_err(|message| verification_error(py, "malformed_secret", message, None))?;
        let verifier = Verifier::new(&keys)
            .map_err(|e| secret_error(py, e))?
            .with_tolerance_seconds(tolerance_seconds);
        Ok(Webhook { verifier })
    }

    /// Verifies the raw body against the headers and returns the parsed event: a `dict` that
    /// also tells what verified it (`scheme`, `asymmetric`, `key_index`, `webhook_id`).
    ///
    /// `body` is the raw request body (`bytes`, or `str`); `headers` any mapping with `get`
    /// (a `dict` in any case, Flask's, Django's or Starlette's headers). Raises
    /// `WebhookVerificationError` naming the failed check.
    fn verify<'py>(
        &self,
        body: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = body.py();
        let raw = RawBody::read(body)?;
        let lookup = Lookup::new(headers);
        let outcome = self.verifier.verify(&lookup, raw.bytes(), now_ms());
        lookup.raise_error()?;
        let verified = outcome.map_err(|e| verify_error(py, e))?;
        let webhook_id = match verified.scheme {
            Scheme::StandardWebhooks => lookup.get(header::WEBHOOK_ID),
            Scheme::Amigo => None,
        };
        event(py, &raw, verified, webhook_id)
    }
}

/// The key strings given to the constructor: one string, or any iterable of strings.
fn key_texts(secret: &Bound<'_, PyAny>) -> Result<Vec<String>, &'static str> {
    const NOT_A_STRING: &str = "a secret must be a whsec_ or whpk_ string";
    if let Ok(text) = secret.cast::<PyString>() {
        return Ok(vec![text.to_cow().map_err(|_| NOT_A_STRING)?.into_owned()]);
    }
    let items = secret.try_iter().map_err(|_| NOT_A_STRING)?;
    items
        .map(|item| {
            let item = item.map_err(|_| NOT_A_STRING)?;
            let text = item.cast::<PyString>().map_err(|_| NOT_A_STRING)?;
            Ok(text.to_cow().map_err(|_| NOT_A_STRING)?.into_owned())
        })
        .collect()
}

/// The raw body: `bytes` read in place, `str` as UTF-8, anything else through `bytes(body)`
/// (a `bytearray` or a `memoryview`). `text` is the body as a `str` when it is UTF-8.
struct RawBody<'py> {
    object: Bound<'py, PyAny>,
    bytes: Bound<'py, PyBytes>,
    text: Option<Bound<'py, PyString>>,
}

impl<'py> RawBody<'py> {
    fn read(body: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(text) = body.cast::<PyString>() {
            return Ok(RawBody {
                object: body.clone(),
                bytes: text.encode_utf8()?,
                text: Some(text.clone()),
            });
        }
        let bytes = match body.cast::<PyBytes>() {
            Ok(bytes) => bytes.clone(),
            Err(_) => body
                .py()
                .get_type::<PyBytes>()
                .call1((body,))
                .and_then(|b| Ok(b.cast_into::<PyBytes>()?))
                .map_err(|_| {
                    PyTypeError::new_err(
                        "body must be the raw body: bytes, str, bytearray or memoryview",
                    )
                })?,
        };
        let text = std::str::from_utf8(bytes.as_bytes())
            .ok()
            .map(|t| PyString::new(body.py(), t));
        Ok(RawBody {
            object: bytes.clone().into_any(),
            bytes,
            text,
        })
    }

    fn bytes(&self) -> &[u8] {
        self.bytes.as_bytes()
    }

    /// The body as a `str`, when it is valid UTF-8.
    fn text(&self) -> Option<&Bound<'py, PyString>> {
        self.text.as_ref()
    }

    /// What `json.loads` parses when the body is not UTF-8: the bytes.
    fn object(&self) -> &Bound<'py, PyAny> {
        &self.object
    }
}

/// The headers mapping as the core reads it: each name looked up once, when the core first asks
/// (a `dict` by key, any other mapping through `get`), then among all names whatever their case
/// if that found nothing. The first Python error is kept and raised after the core returns.
struct Lookup<'a, 'py> {
    headers: &'a Bound<'py, PyAny>,
    values: [OnceCell<Option<String>>; NAMES.len()],
    error: RefCell<Option<PyErr>>,
}

/// The names the core asks for, and the same as Python strings made once.
const NAMES: [&str; 5] = [
    header::WEBHOOK_ID,
    header::WEBHOOK_TIMESTAMP,
    header::WEBHOOK_SIGNATURE,
    header::AMIGO_TIMESTAMP,
    header::AMIGO_SIGNATURE,
];
static PY_NAMES: [Interned; 5] = [
    Interned::new(NAMES[0]),
    Interned::new(NAMES[1]),
    Interned::new(NAMES[2]),
    Interned::new(NAMES[3]),
    Interned::new(NAMES[4]),
];

impl<'a, 'py> Lookup<'a, 'py> {
    fn new(headers: &'a Bound<'py, PyAny>) -> Self {
        Lookup {
            headers,
            values: Default::default(),
            error: RefCell::new(None),
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.header(name).map(str::to_owned)
    }

    fn raise_error(&self) -> PyResult<()> {
        match self.error.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn fetch(&self, slot: usize) -> PyResult<Option<String>> {
        let headers = self.headers;
        let name = PY_NAMES[slot].get(headers.py());
        let value = match headers.cast::<PyDict>() {
            Ok(dict) => dict.get_item(name)?,
            Err(_) => Some(headers.call_method1(pyo3::intern!(headers.py(), "get"), (name,))?),
        };
        match value.filter(|v| !v.is_none()) {
            Some(v) => text(&v).map(Some),
            None => self.scan(NAMES[slot]),
        }
    }

    /// Looks for `name` among all the mapping's keys, whatever their case.
    fn scan(&self, name: &str) -> PyResult<Option<String>> {
        let items = self
            .headers
            .call_method0(pyo3::intern!(self.headers.py(), "items"))?;
        for item in items.try_iter()? {
            let (key, value): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item?.extract()?;
            if text(&key)?.eq_ignore_ascii_case(name) {
                return text(&value).map(Some);
            }
        }
        Ok(None)
    }
}

impl Headers for Lookup<'_, '_> {
    fn header(&self, name: &str) -> Option<&str> {
        let slot = NAMES.iter().position(|n| *n == name)?;
        self.values[slot]
            .get_or_init(|| {
                self.fetch(slot).unwrap_or_else(|e| {
                    self.error.borrow_mut().get_or_insert(e);
                    None
                })
            })
            .as_deref()
    }
}

/// A header name or value: `str`, or `bytes` as Latin-1 (how HTTP carries them).
fn text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.cast::<PyString>() {
        return s.to_cow().map(Cow::into_owned);
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(b.as_bytes().iter().map(|&c| char::from(c)).collect());
    }
    Err(PyTypeError::new_err(
        "header names and values must be str or bytes",
    ))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The verified body parsed by Python's `json`, as a `VerifiedEvent`.
///
/// A UTF-8 body (as JSON must be) is parsed by `JSONDecoder.raw_decode` on a `str` made here, the
/// way `json.loads` parses a `str` minus its Python-level layers (the encoding detection of a
/// `bytes` body costs more than the parse of a small one); anything else goes to `json.loads`.
fn event<'py>(
    py: Python<'py>,
    raw: &RawBody<'py>,
    verified: Verified,
    webhook_id: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let invalid = |e: PyErr| {
        if e.is_instance_of::<PyValueError>(py) {
            verification_error(
                py,
                "invalid_payload",
                "body is signed but is not JSON",
                None,
            )
        } else {
            e
        }
    };
    let parsed = match raw.text() {
        Some(text) => {
            let bytes = raw.bytes();
            // JSON's whitespace is ASCII: byte offsets and character offsets agree on it.
            let is_space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
            let start = bytes.iter().take_while(|c| is_space(c)).count();
            let trailing = bytes.iter().rev().take_while(|c| is_space(c)).count();
            let decoder = JSON_DECODER.import(py, "json", "_default_decoder")?;
            let (value, end): (Bound<'py, PyAny>, usize) = decoder
                .call_method1(pyo3::intern!(py, "raw_decode"), (&text, start))
                .map_err(invalid)?
                .extract()?;
            if end + trailing < text.len()? {
                return Err(verification_error(
                    py,
                    "invalid_payload",
                    "body is signed but is not JSON",
                    None,
                ));
            }
            value
        }
        None => JSON_LOADS
            .import(py, "json", "loads")?
            .call1((raw.object(),))
            .map_err(invalid)?,
    };
    let Ok(object) = parsed.cast::<PyDict>() else {
        return Err(verification_error(
            py,
            "invalid_payload",
            "body is signed but is not a JSON object",
            None,
        ));
    };
    let event = VERIFIED_EVENT
        .import(py, TYPES, "VerifiedEvent")?
        .call1((object,))?;
    let scheme = match verified.scheme {
        Scheme::StandardWebhooks => "standard",
        Scheme::Amigo => "amigo",
    };
    event.setattr(pyo3::intern!(py, "scheme"), scheme)?;
    event.setattr(pyo3::intern!(py, "asymmetric"), verified.asymmetric)?;
    event.setattr(pyo3::intern!(py, "key_index"), verified.key_index)?;
    event.setattr(pyo3::intern!(py, "webhook_id"), webhook_id)?;
    Ok(event)
}

fn verify_error(py: Python<'_>, e: VerifyError) -> PyErr {
    let header = match e {
        VerifyError::MissingHeader(name) => Some(name),
        _ => None,
    };
    verification_error(py, e.code(), &e.to_string(), header)
}

fn secret_error(py: Python<'_>, e: SecretError) -> PyErr {
    verification_error(py, e.code(), &e.to_string(), None)
}

/// A `WebhookVerificationError(code, message, header)`.
fn verification_error(py: Python<'_>, code: &str, message: &str, header: Option<&str>) -> PyErr {
    match VERIFICATION_ERROR.import(py, TYPES, "WebhookVerificationError") {
        Ok(class) => match class.call1((code, message, header)) {
            Ok(error) => PyErr::from_value(error),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

/// The extension module `edgehook_verify._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Webhook>()?;
    Ok(())
}
