//! Authenticator enrollment from a QR code: reading the `otpauth://` URI a
//! sign-up page shows as a QR code, so that a robot account is enrolled
//! without anyone reading (or seeing) its secret, and drawing such codes
//! for robots that play the enrolling site in tests.
//!
//! [`dir`] confines file paths to the configured `--qr-dir`, [`scan`]
//! finds and reads QR codes in PNG/JPEG images, [`enrollment`] reads the
//! URI's parts, [`draw`] makes PNGs, and [`keywords`] holds the two
//! keywords.

pub mod dir;
pub mod draw;
pub mod enrollment;
pub mod keywords;
pub mod scan;

pub use dir::QrDir;
