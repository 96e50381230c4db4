//! Finding and reading the QR codes in a PNG or JPEG image (a screenshot
//! of an enrollment page, a photo of a screen), within a pixel bound.
//!
//! rqrr reads codes at any of the four rotations and at slight angles on
//! its own; what it misses are light-on-dark codes (dark themes) and small
//! codes of a few pixels a module, so an image whose plain reading finds
//! nothing is read again inverted, and a small one enlarged.

use std::io::Cursor;

use image::{GrayImage, ImageFormat, ImageReader, Limits};
use zeroize::Zeroizing;

use crate::KeywordError;

/// Decoded pixels allowed: 16 megapixels, more than a 5K screen
/// (5120 × 2880); a larger image is refused before it is decoded.
pub const MAX_PIXELS: u64 = 16 * 1024 * 1024;

/// Images up to this many pixels a side are also read enlarged
/// [`ENLARGE`] times when nothing is found in them as they are.
const MAX_ENLARGED_SIDE: u32 = 800;
const ENLARGE: u32 = 3;

/// What an image held.
#[derive(Debug)]
pub struct Scanned {
    pub width: u32,
    pub height: u32,
    /// The text of every QR code read, in the order found. Zeroized when
    /// dropped: an enrollment code's text holds its secret.
    pub texts: Vec<Zeroizing<String>>,
    /// Codes found whose contents could not be read.
    pub unreadable: usize,
}

/// Decodes `bytes` (PNG or JPEG) and reads every QR code in it.
pub fn scan(bytes: &[u8]) -> Result<Scanned, KeywordError> {
    let grey = decode_image(bytes)?;
    let (width, height) = grey.dimensions();
    let (mut texts, mut unreadable) = read_either_way(&grey);
    // Small codes (2-4 pixels a module, tilted or blurred by JPEG) are
    // found once enlarged; a screenshot is large enough as it is.
    if texts.is_empty() && width.max(height) <= MAX_ENLARGED_SIDE {
        let enlarged = image::imageops::resize(
            &grey,
            width * ENLARGE,
            height * ENLARGE,
            image::imageops::FilterType::Triangle,
        );
        let found = read_either_way(&enlarged);
        texts = found.0;
        unreadable = unreadable.max(found.1);
    }
    Ok(Scanned {
        width,
        height,
        texts,
        unreadable,
    })
}

/// The codes read as the picture is, else inverted.
fn read_either_way(grey: &GrayImage) -> (Vec<Zeroizing<String>>, usize) {
    let plain = read_codes(grey, false);
    if !plain.0.is_empty() {
        return plain;
    }
    let inverted = read_codes(grey, true);
    (inverted.0, plain.1.max(inverted.1))
}

/// The image as greyscale, if it is a PNG or JPEG within [`MAX_PIXELS`].
pub fn decode_image(bytes: &[u8]) -> Result<GrayImage, KeywordError> {
    let unreadable = |why: String| KeywordError::value_error(format!("Unreadable image: {why}"));
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        Ok(other) => {
            return Err(unreadable(format!(
                "{other:?} is not supported; send a PNG or JPEG."
            )))
        }
        Err(_) => {
            return Err(unreadable(format!(
                "{} bytes that are neither PNG nor JPEG.",
                bytes.len()
            )))
        }
    };
    let reader = || ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|e| unreadable(e.to_string()))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(KeywordError::value_error(format!(
            "The image is too large: {width} × {height} pixels, more than {MAX_PIXELS}. \
Send a smaller screenshot or crop it to the QR code."
        )));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // Room for the widest decoded form (16-bit RGBA) and the grey copy.
    limits.max_alloc = Some(MAX_PIXELS * 10);
    let mut reader = reader();
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| unreadable(e.to_string()))?;
    Ok(decoded.into_luma8())
}

/// The texts of the codes rqrr reads in `grey` (or its negative), and how
/// many more it found but could not read.
fn read_codes(grey: &GrayImage, invert: bool) -> (Vec<Zeroizing<String>>, usize) {
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let luma = grey.get_pixel(x as u32, y as u32).0[0];
        if invert {
            255 - luma
        } else {
            luma
        }
    });
    let mut texts = Vec::new();
    let mut unreadable = 0;
    for grid in prepared.detect_grids() {
        let mut out = Zeroizing::new(Vec::new());
        match grid.decode_to(&mut *out) {
            Ok(_) => match String::from_utf8(std::mem::take(&mut *out)) {
                Ok(text) => texts.push(Zeroizing::new(text)),
                Err(e) => {
                    // The bytes move into the error: wipe them there.
                    zeroize::Zeroize::zeroize(&mut e.into_bytes());
                    unreadable += 1;
                }
            },
            Err(_) => unreadable += 1,
        }
    }
    (texts, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drawn_code_is_read_back_also_inverted() {
        let png = super::super::draw::png("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP").unwrap();
        let scanned = scan(&png).unwrap();
        assert_eq!(scanned.texts.len(), 1);
        assert_eq!(
            scanned.texts[0].as_str(),
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"
        );
        let mut negative = decode_image(&png).unwrap();
        image::imageops::invert(&mut negative);
        let mut bytes = Vec::new();
        negative
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        assert_eq!(scan(&bytes).unwrap().texts.len(), 1, "light on dark");
    }

    #[test]
    fn other_bytes_and_huge_images_are_refused_before_decoding() {
        let err = scan(b"GIF89a....").unwrap_err();
        assert!(err.message.contains("Gif is not supported"), "{err}");
        let err = scan(b"hello").unwrap_err();
        assert!(err.message.contains("neither PNG nor JPEG"), "{err}");
        // A PNG header claiming 60000 × 60000 pixels, with no pixels at all.
        let huge = GrayImage::new(1, 1);
        let mut bytes = Vec::new();
        huge.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32fast::hash(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = scan(&bytes).unwrap_err();
        assert!(err.message.contains("too large: 60000 × 60000"), "{err}");
    }
}
